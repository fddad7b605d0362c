import { runSimulation } from '@cloud-copilot/iam-simulate';
import { AwsCall, iamRequestsFor, IamRequest, LocalNames } from './call-permissions';
import { withEncryptionContextDecided } from './encryption-context';
import { policyModel, PolicyModel } from './policy-model';
import { describeCall, recordingAs } from './sdk-call-recorder';

/**
 * A role the check knows: a function's, by its Powertools service name (`play`, `encoding-ingest`,
 * ...; every `NearstreamFunction` is found), or an appliance's, `appliance-ec2` or
 * `appliance-bare-metal`. Calls are checked against the role as deployed in the region they go to.
 */
export type CheckedRole = string;

/** Who makes the calls: a role, and the session tags it carries (a bare-metal appliance's certificate fields). */
export interface Principal {
  readonly role: CheckedRole;
  /** As `aws:PrincipalTag/<key>`, e.g. `{ 'x509Subject/OU': 'isp-a' }`. */
  readonly principalTags?: Readonly<Record<string, string>>;
  /**
   * The region the role is deployed in, for code that also calls another region (the key provider
   * wraps each data key with the other region's KMS key too): every call is checked against that
   * region's role.
   * @default - the region each call goes to
   */
  readonly region?: string;
}

/** A client mocked with aws-sdk-client-mock (its `AwsStub`): the check reads what it was sent. */
export interface MockedClient {
  calls(): readonly { readonly thisValue: unknown; readonly args: readonly unknown[] }[];
}

/** Something else that saw calls, such as a proxy in front of a local endpoint: drained at each check. */
export interface CallSource {
  take(): AwsCall[];
}

export interface LeastPrivilegeOptions extends LocalNames {
  /**
   * Clients the test mocks; calls sent to them inside `actingAs` are checked like real ones.
   * @default - none
   */
  readonly mocks?: readonly MockedClient[];
  /**
   * Roles whose code takes S3's 403 for a missing object as "not there", and so need no
   * s3:ListBucket to read objects that may be missing.
   * @default - none: a read that found nothing needs s3:ListBucket, since S3 answers 403 without it
   */
  readonly treatsForbiddenAsMissing?: readonly CheckedRole[];
}

/** A call a role made in a test that IAM would not allow it in the synthesized environment. */
export interface Denial {
  readonly role: string;
  readonly call: AwsCall;
  readonly request?: IamRequest;
  /** `ImplicitlyDenied`, `ExplicitlyDenied`, or why the call could not be evaluated. */
  readonly verdict: string;
  readonly message: string;
}

interface Attributed {
  readonly principal: Principal;
  readonly call: Promise<AwsCall>;
}

/**
 * Least privilege, proven by the integration tests: every AWS call a handler or the appliance
 * agent makes in a test, acting as a role, is evaluated with iam-simulate against that role's
 * policies as the environment synthesizes them (intrinsics resolved, local names mapped to the
 * deployed ones). The local servers the tests run against enforce no IAM; this is what would.
 */
export class LeastPrivilegeCheck {
  private readonly made: Attributed[] = [];
  private readonly sources: { principal: Principal; source: CallSource }[] = [];
  private readonly acting = new Map<CheckedRole, number>();

  constructor(private readonly options: LeastPrivilegeOptions = {}) {}

  /** `fn`, recording every call it makes (and the mocked calls it causes) as `principal`'s. */
  actingAs<A extends unknown[], R>(principal: Principal | CheckedRole, fn: (...args: A) => Promise<R>): (...args: A) => Promise<R> {
    const as = typeof principal === 'string' ? { role: principal } : principal;
    const mocks = this.options.mocks ?? [];
    return async (...args: A) => {
      const others = [...this.acting.keys()].filter((role) => role !== as.role);
      if (mocks.length > 0 && others.length > 0) {
        throw new Error(`${as.role} started while ${others.join(', ')} ran: mocked calls cannot be told apart; run them one after the other`);
      }
      const marks = mocks.map((mock) => mock.calls().length);
      this.acting.set(as.role, (this.acting.get(as.role) ?? 0) + 1);
      try {
        return await recordingAs((call) => this.made.push({ principal: as, call }), () => fn(...args));
      } finally {
        const running = this.acting.get(as.role)! - 1;
        if (running === 0) {
          this.acting.delete(as.role);
        } else {
          this.acting.set(as.role, running);
        }
        mocks.forEach((mock, index) => {
          for (const sent of mock.calls().slice(marks[index])) {
            this.made.push({ principal: as, call: describeCall(sent.thisValue, sent.args[0]) });
          }
        });
      }
    };
  }

  /** Checks what `source` saw as `principal`'s calls. */
  observe(principal: Principal | CheckedRole, source: CallSource): void {
    this.sources.push({ principal: typeof principal === 'string' ? { role: principal } : principal, source });
  }

  /** Evaluates the calls made since the last evaluation, and forgets them. */
  async denials(): Promise<Denial[]> {
    const made = [
      ...(await Promise.all(this.made.splice(0).map(async ({ principal, call }) => ({ principal, call: await call })))),
      ...this.sources.flatMap(({ principal, source }) => source.take().map((call) => ({ principal, call }))),
    ];
    if (made.length === 0) {
      return [];
    }
    const model = policyModel();
    const evaluated = new Map<string, Promise<Denial | undefined>>();
    for (const { principal, call } of made) {
      const key = JSON.stringify([principal, call]);
      if (!evaluated.has(key)) {
        evaluated.set(key, evaluate(principal, call, this.options, model));
      }
    }
    return (await Promise.all(evaluated.values())).filter((denial): denial is Denial => denial !== undefined);
  }

  /** Fails, naming each denied call and what to grant, if IAM would refuse any call made since the last check. */
  async expectNoDenials(): Promise<void> {
    const denials = await this.denials();
    if (denials.length > 0) {
      throw new Error(`IAM would deny ${denials.length} call(s) this test made:\n\n${denials.map((denial) => denial.message).join('\n\n')}`);
    }
  }
}

/** A check whose calls are evaluated after each test, failing the test that made a denied call. */
export function leastPrivilege(options: LeastPrivilegeOptions = {}): LeastPrivilegeCheck {
  const check = new LeastPrivilegeCheck(options);
  afterEach(() => check.expectNoDenials());
  return check;
}

async function evaluate(principal: Principal, call: AwsCall, options: LeastPrivilegeOptions, model: PolicyModel): Promise<Denial | undefined> {
  const roleKey = `${principal.role}@${principal.region ?? call.region}`;
  const described = `${call.service} ${call.operation} ${withoutBytes(call.input).slice(0, 300)}`;
  const refuse = (verdict: string, message: string, request?: IamRequest): Denial => ({ role: roleKey, call, request, verdict, message });
  const role = model.roles[roleKey];
  if (!role) {
    const elsewhere = Object.keys(model.roles).filter((key) => key.startsWith(`${principal.role}@`));
    const known = elsewhere.length > 0 ? `has a role only in: ${elsewhere.join(', ')}` : `is no role of the environment; roles: ${Object.keys(model.roles).join(', ')}`;
    return refuse('NoRole', `${principal.role} made ${described} in ${call.region}, but ${known}`);
  }
  let requests: IamRequest[];
  try {
    requests = iamRequestsFor(call, options, model, { treatsForbiddenAsMissing: (options.treatsForbiddenAsMissing ?? []).includes(principal.role) });
  } catch (error) {
    return refuse('Unmapped', `${roleKey}: ${described}: ${(error as Error).message}`);
  }
  const session = role.arn.replace(':iam::', ':sts::').replace(':role/', ':assumed-role/') + '/least-privilege-test';
  const tags = Object.fromEntries(Object.entries(principal.principalTags ?? {}).map(([key, value]) => [`aws:PrincipalTag/${key}`, value]));
  for (const request of requests) {
    // iam-simulate cannot evaluate kms:EncryptionContext:<key>: a KMS request's conditions on it are decided first.
    const decided = <P>(policy: P) => (request.action.startsWith('kms:') ? withEncryptionContextDecided(policy, request.context) : policy);
    let result: Awaited<ReturnType<typeof runSimulation>>;
    try {
      result = await runSimulation(
        {
          request: {
            principal: session,
            action: request.action,
            resource: { resource: request.resource, accountId: model.account },
            contextVariables: { 'aws:PrincipalArn': role.arn, 'aws:PrincipalAccount': model.account, ...tags, ...request.context },
          },
          identityPolicies: role.policies.map((policy) => ({ name: policy.name, policy: decided(policy.document) })),
          resourcePolicy: decided(request.resourcePolicy),
          serviceControlPolicies: [],
          resourceControlPolicies: [],
        },
        {},
      );
    } catch (error) {
      return refuse('NotEvaluable', `${roleKey}: ${described}: ${(error as Error).message}`, request);
    }
    const verdict = result.resultType === 'error' ? `not evaluable (${result.errors.message})` : result.overallResult;
    if (verdict !== 'Allowed') {
      const remedy =
        verdict === 'ImplicitlyDenied'
          ? `grant it to ${role.constructPath}, or change the call`
          : verdict === 'ExplicitlyDenied'
            ? `a Deny in the policies of ${role.constructPath} or of the resource refuses it`
            : 'the policies or the request are malformed';
      return refuse(
        verdict,
        [
          `${roleKey} may not make ${described}:`,
          `  ${request.action} on ${request.resource} is ${verdict}${request.because ? ` (needed because ${request.because})` : ''}`,
          `  context: ${JSON.stringify(request.context)}`,
          `  ${remedy}`,
        ].join('\n'),
        request,
      );
    }
  }
  return undefined;
}

/** The input as JSON with binary fields (a KMS plaintext, a sealed key) as their length only: a failure message never shows key bytes. */
function withoutBytes(input: unknown): string {
  return JSON.stringify(input, function (this: Record<string, unknown>, key: string, value: unknown) {
    const original = this[key];
    return original instanceof Uint8Array ? `<${original.length} bytes>` : value;
  });
}
