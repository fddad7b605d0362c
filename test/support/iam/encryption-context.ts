/**
 * Conditions on `kms:EncryptionContext:<key>`, decided before iam-simulate sees the policies.
 *
 * iam-simulate knows the template, but matches a request's key to a template only when its
 * variable part follows a '/' (`aws:PrincipalTag/<key>`): it drops `kms:EncryptionContext:purpose`
 * from the request as unknown, so a condition on it could never hold and every call a purpose
 * condition admits would be denied. So, for a KMS request, each statement's encryption-context
 * conditions are evaluated here, with IAM's rules, against the context the call sent: a statement
 * whose conditions on it all hold keeps its other conditions for the simulator; a statement with
 * one that fails applies to nothing (an Allow grants nothing, a Deny denies nothing), and is left out.
 */

type ContextValues = Readonly<Record<string, string | string[]>>;
type PolicyValue = string | readonly string[];
type Conditions = Record<string, Record<string, PolicyValue>>;
interface Statement {
  readonly Condition?: Conditions;
  readonly [field: string]: unknown;
}

const KEY_PREFIX = 'kms:encryptioncontext:';

/** `policy` with its statements' encryption-context conditions decided against `context`. */
export function withEncryptionContextDecided<P>(policy: P, context: ContextValues): P {
  if (!policy || typeof policy !== 'object' || !('Statement' in policy)) {
    return policy;
  }
  const document = policy as { Statement: Statement | Statement[] };
  const statements = [document.Statement].flat().flatMap((statement) => decided(statement, context));
  return { ...document, Statement: statements } as P;
}

function decided(statement: Statement, context: ContextValues): Statement[] {
  if (!statement.Condition) {
    return [statement];
  }
  const remaining: Conditions = {};
  for (const [operator, entries] of Object.entries(statement.Condition)) {
    for (const [key, expected] of Object.entries(entries)) {
      if (!key.toLowerCase().startsWith(KEY_PREFIX)) {
        (remaining[operator] ??= {})[key] = expected;
      } else if (!holds(operator, key, [expected].flat(), contextValue(context, key))) {
        return [];
      }
    }
  }
  const { Condition: _decided, ...rest } = statement;
  return [Object.keys(remaining).length > 0 ? { ...rest, Condition: remaining } : rest];
}

/** The value the call sent for `key`: condition key names, the context key's name included, are case-insensitive. */
function contextValue(context: ContextValues, key: string): string | undefined {
  const found = Object.entries(context).find(([name]) => name.toLowerCase() === key.toLowerCase());
  return found === undefined ? undefined : [found[1]].flat()[0];
}

/** Whether `operator` holds for a single-valued key: IAM's rules for a present and a missing key. */
function holds(operator: string, key: string, expected: readonly string[], actual: string | undefined): boolean {
  const match = /^(?:(ForAnyValue|ForAllValues):)?(\w+?)(IfExists)?$/.exec(operator);
  const [, setOperator, base, ifExists] = match ?? [];
  if (base === 'Null') {
    return expected.every((value) => (value === 'true') === (actual === undefined));
  }
  const compare = COMPARISONS[base];
  if (!compare) {
    throw new Error(`the condition ${operator} on ${key} is not one test/support/iam/encryption-context.ts evaluates: teach it`);
  }
  const negated = base.includes('Not');
  if (actual === undefined) {
    // A missing key satisfies IfExists, ForAllValues (over no values) and the negated operators only.
    return Boolean(ifExists) || setOperator === 'ForAllValues' || (negated && setOperator === undefined);
  }
  const matched = expected.some((value) => compare(value, actual));
  return negated ? !matched : matched;
}

const glob = (pattern: string, value: string, flags = '') =>
  new RegExp(`^${pattern.split('').map((char) => (char === '*' ? '.*' : char === '?' ? '.' : char.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))).join('')}$`, `s${flags}`).test(value);

/** ArnLike and ArnEquals alike: each of the six colon-separated parts matched on its own, wildcards within a part. */
function arnMatches(pattern: string, value: string): boolean {
  const parts = (arn: string) => {
    const split = arn.split(':');
    return split.length < 6 ? undefined : [...split.slice(0, 5), split.slice(5).join(':')];
  };
  const [expected, actual] = [parts(pattern), parts(value)];
  return expected !== undefined && actual !== undefined && expected.every((part, index) => glob(part, actual[index]));
}

const COMPARISONS: Readonly<Record<string, (expected: string, actual: string) => boolean>> = {
  ArnEquals: arnMatches,
  ArnLike: arnMatches,
  ArnNotEquals: arnMatches,
  ArnNotLike: arnMatches,
  StringEquals: (expected, actual) => expected === actual,
  StringNotEquals: (expected, actual) => expected === actual,
  StringEqualsIgnoreCase: (expected, actual) => expected.toLowerCase() === actual.toLowerCase(),
  StringNotEqualsIgnoreCase: (expected, actual) => expected.toLowerCase() === actual.toLowerCase(),
  StringLike: (expected, actual) => glob(expected, actual),
  StringNotLike: (expected, actual) => glob(expected, actual),
};
