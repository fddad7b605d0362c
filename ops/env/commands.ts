import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { DiffMethod, StackSelectionStrategy, Toolkit } from '@aws-cdk/toolkit-lib';
import type { CachedCloudAssembly } from '@aws-cdk/toolkit-lib';
import { isProtectedEnvironment, logGroupSearchPrefix, planLogGroupCleanup } from '../../lambda/cleanup/log-groups';
import { EnvironmentConfig, resolveEnvironment } from '../../lib/config/environment';
import { creatorTagValue, expiryAfter } from '../../lib/config/lifetime';
import type { CallerIdentity, CredentialCheck } from '../aws/credentials';
import type { EnvCommand, LifetimeRequest, Target } from './args';
import { UsageError } from './args';
import { environmentAssembly } from './assembly';
import { DeployedStack, formatEnvironments, groupEnvironments } from './environments';
import type { TestViewerSettings } from '../smoke/test-viewer';
import { CreatedEnvironment, createdEnvironment, formatCreated } from './outputs';
import { ProgressIoHost, ProgressSinks } from './progress-io-host';

/** Everything the commands touch outside themselves, so tests can stand in for the terminal and AWS. */
export interface EnvIo {
  /** Results: text for people, or the one JSON object. */
  out(text: string): void;
  /** Progress and errors, a line at a time. */
  err(line: string): void;
  readonly stdinIsTTY: boolean;
  ask(question: string): Promise<string>;
  now(): Date;
  osUser(): string;
  findCredentials(): Promise<CredentialCheck>;
  describeStacks(regions: readonly string[]): Promise<DeployedStack[]>;
  /** The names of `region`'s log groups starting with `prefix`, every page. */
  listLogGroups(region: string, prefix: string): Promise<string[]>;
  /** Deletes one of `region`'s log groups; false when it was gone already. */
  deleteLogGroup(region: string, logGroupName: string): Promise<boolean>;
  /** Creates (once) and signs in the environment's test viewer, as the smoke test does. */
  signInTestViewer(settings: TestViewerSettings, region: string): Promise<{ email: string; accessToken: string }>;
}

type Command<K extends EnvCommand['command']> = Extract<EnvCommand, { command: K }>;

/** Stacks deployed or destroyed at once; toolkit-lib still follows the dependencies between them. */
const STACK_CONCURRENCY = 4;
const ALL_STACKS = { strategy: StackSelectionStrategy.ALL_STACKS };

export async function createEnvironment(command: Command<'create'>, identity: CallerIdentity, io: EnvIo): Promise<number> {
  const account = accountFor(command.target, identity);
  const creator = command.lifetime.creator ?? creatorTagValue(callerName(identity.arn));
  const config = configOf(command.target, account, { creator, expiresAt: expiryAfter(io.now(), command.lifetime.ttlSeconds) });
  const { toolkit, host } = toolkitFor(io, {});
  io.err(`creating ${config.name} in account ${account} (${config.primaryRegion}, ${config.secondaryRegion}), expiring ${config.lifetime?.expiresAt}`);
  const source = await environmentAssembly(toolkit, { config });
  const result = await failingWith(host, () => toolkit.deploy(source, { stacks: ALL_STACKS, concurrency: STACK_CONCURRENCY })).catch((error: Error) => {
    throw new Error(`${error.message}. What was created carries the expiry tag; \`npm run env -- destroy ${config.name} --yes\` removes it now`);
  });
  const created = await withTestViewer(
    createdEnvironment(config, Object.fromEntries(result.stacks.map((stack) => [stack.stackName, stack.outputs]))),
    config,
    io,
  );
  io.out(command.json ? json(created) : `${formatCreated(created).join('\n')}\n`);
  return 0;
}

/** The environment is up whatever happens here: a test viewer that cannot sign in is reported, not fatal. */
export async function withTestViewer(created: CreatedEnvironment, config: EnvironmentConfig, io: EnvIo): Promise<CreatedEnvironment> {
  const { viewerUserPoolId: userPoolId, playerClientId, controlTableName } = created;
  if (!userPoolId || !playerClientId || !controlTableName) {
    return { ...created, testViewer: { ...created.testViewer, missing: 'viewers sign in with an external issuer' } };
  }
  try {
    const viewer = await io.signInTestViewer({ env: config.name, userPoolId, playerClientId, controlTableName }, config.primaryRegion);
    return { ...created, testViewer: { ...created.testViewer, email: viewer.email, accessToken: viewer.accessToken } };
  } catch (error) {
    io.err(`the test viewer could not sign in: ${(error as Error).message}`);
    return { ...created, testViewer: { ...created.testViewer, missing: `could not sign in (${(error as Error).message})` } };
  }
}

export async function destroyEnvironment(command: Command<'destroy'>, identity: CallerIdentity, io: EnvIo): Promise<number> {
  const account = accountFor(command.target, identity);
  const config = configOf(command.target, account);
  if (!command.yes) {
    const answer = await io.ask(
      `Destroy every stack of ${config.name} in account ${account} (${config.primaryRegion}, ${config.secondaryRegion}), data included? Type ${config.name} to confirm: `,
    );
    if (answer.trim() !== config.name) {
      io.err(`not destroyed: the answer was not '${config.name}'`);
      return 1;
    }
  }
  const { toolkit, host } = toolkitFor(io, {});
  // Destroying needs stack names, not code: no bundling.
  const source = await environmentAssembly(toolkit, { config, bundling: false });
  const result = await failingWith(host, () => toolkit.destroy(source, { stacks: ALL_STACKS, concurrency: STACK_CONCURRENCY }));
  const destroyed = result.stacks.filter((stack) => stack.stackExisted).map((stack) => stack.stackName).sort();
  const absent = result.stacks.filter((stack) => !stack.stackExisted).map((stack) => stack.stackName).sort();
  let logGroups: ProviderLogGroups;
  try {
    logGroups = await removeProviderLogGroups(config.name, [config.primaryRegion, config.secondaryRegion], io);
  } catch (error) {
    throw new Error(
      `the stacks of ${config.name} are gone, but deleting its provider log groups failed: ${(error as Error).message}. \`npm run env -- destroy ${config.name} --yes\` again retries them`,
    );
  }
  io.out(
    command.json
      ? json({ environment: config.name, account, destroyed, absent, logGroupsDeleted: logGroups.deleted, logGroupsKept: logGroups.kept })
      : [
          `destroyed ${destroyed.length} stack(s) of ${config.name}${absent.length > 0 ? `; ${absent.length} did not exist (${absent.join(', ')})` : ''}`,
          `deleted ${logGroups.deleted.length} provider log group(s) that no stack held${logGroups.kept.length > 0 ? `; kept ${logGroups.kept.length}:` : ''}`,
          ...logGroups.kept.map((kept) => `  ${kept.region} ${kept.logGroupName ?? '(all)'}: ${kept.reason}`),
        ].join('\n') + '\n',
  );
  return 0;
}

/** What `removeProviderLogGroups` did, region by region. */
export interface ProviderLogGroups {
  readonly deleted: readonly { readonly region: string; readonly logGroupName: string }[];
  /** A group left because another stack may write it, or a whole region (no name) because a stack of the environment remains. */
  readonly kept: readonly { readonly region: string; readonly logGroupName?: string; readonly reason: string }[];
}

/**
 * The last of an environment once its stacks are gone: the log groups Lambda created outside them
 * for CDK's providers (lambda/cleanup/log-groups.ts, the matcher the scheduled cleanup uses too).
 * In each region only after DescribeStacks shows none of the environment's stacks there; never for
 * prod, staging or dev.
 */
export async function removeProviderLogGroups(environment: string, regions: readonly string[], io: EnvIo): Promise<ProviderLogGroups> {
  if (isProtectedEnvironment(environment)) {
    return { deleted: [], kept: regions.map((region) => ({ region, reason: `${environment}'s log groups are never deleted by a tool: delete them by hand if you mean to` })) };
  }
  const deleted: { region: string; logGroupName: string }[] = [];
  const kept: { region: string; logGroupName?: string; reason: string }[] = [];
  for (const region of regions) {
    const stacks = await io.describeStacks([region]);
    const plan = planLogGroupCleanup({ environment, regions, stacks, logGroupNames: await io.listLogGroups(region, logGroupSearchPrefix(environment)) });
    if (plan.remainingStacks.length > 0) {
      kept.push({ region, reason: `its stacks ${plan.remainingStacks.join(', ')} remain` });
      continue;
    }
    kept.push(...plan.kept.map(({ logGroupName, reason }) => ({ region, logGroupName, reason })));
    for (const logGroupName of plan.deletable) {
      if (await io.deleteLogGroup(region, logGroupName)) {
        deleted.push({ region, logGroupName });
      }
    }
  }
  return { deleted, kept };
}

export async function listEnvironments(command: Command<'list'>, identity: CallerIdentity, io: EnvIo): Promise<number> {
  accountFor({ name: 'list', account: command.account, primaryRegion: command.regions[0], secondaryRegion: command.regions[1] }, identity);
  const environments = groupEnvironments(await io.describeStacks(command.regions), io.now());
  io.out(command.json ? json({ regions: command.regions, environments }) : `${formatEnvironments(environments, command.regions).join('\n')}\n`);
  return 0;
}

/**
 * With credentials, compares with the deployed templates (template-only: read-only, no change set
 * to create and delete). Without, compares each stack with an empty template, so the diff is
 * everything `create` would make.
 */
export async function diffEnvironment(command: Command<'diff'>, io: EnvIo): Promise<number> {
  const credentials = await io.findCredentials();
  const online = credentials.ok;
  if (!online) {
    io.err(`npm run env -- diff ${command.target.name}: ${credentials.reason}, so comparing with nothing deployed: every resource below would be created`);
    // Known to have none: keep toolkit-lib's own credential probe off the instance metadata service.
    process.env.AWS_EC2_METADATA_DISABLED ??= 'true';
  }
  const account = command.target.account ?? (credentials.ok ? credentials.identity.account : undefined);
  const config = configOf(command.target, account, lifetimeFor(command.lifetime, credentials.ok ? credentials.identity : undefined, io));
  const diffs: Record<string, string> = {};
  const { toolkit, host } = toolkitFor(io, {
    diff: (stackName, text) => {
      diffs[stackName] = text;
      if (!command.json) {
        io.out(`${text.trimEnd()}\n\n`);
      }
    },
  });
  if (!command.bundling) {
    io.err('skipping Lambda bundling (--no-bundling): function code hashes differ from a deployed environment\'s');
  }
  const assembly = await failingWith(host, async () => toolkit.synth(await environmentAssembly(toolkit, { config, bundling: command.bundling })));
  try {
    const changes = online
      ? await failingWith(host, () => toolkit.diff(assembly, { stacks: ALL_STACKS, method: DiffMethod.TemplateOnly() }))
      : await diffAgainstNothing(toolkit, host, assembly);
    const stacks = assembly.cloudAssembly.stacksRecursively.map((stack) => ({
      stackName: stack.stackName,
      region: stack.environment.region,
      // toolkit-lib keys its diffs by display name (`Nearstream-pr-7/Data (nearstream-pr-7-data)`).
      changes: (changes[stack.displayName] ?? changes[stack.stackName])?.differenceCount ?? 0,
    }));
    const changed = stacks.filter((stack) => stack.changes > 0).length;
    io.out(
      command.json
        ? json({ environment: config.name, comparedWith: online ? 'deployed' : 'nothing', stacks, diffs })
        : `${changed} of ${stacks.length} stacks of ${config.name} differ from ${online ? 'what is deployed' : 'nothing deployed'}\n`,
    );
    return 0;
  } finally {
    await assembly.dispose();
  }
}

async function diffAgainstNothing(toolkit: Toolkit, host: ProgressIoHost, assembly: CachedCloudAssembly): Promise<Record<string, { differenceCount: number }>> {
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'nearstream-env-diff-'));
  const empty = path.join(scratch, 'empty.json');
  fs.writeFileSync(empty, '{}');
  try {
    const changes: Record<string, { differenceCount: number }> = {};
    // toolkit-lib compares one stack at a time with a local template.
    for (const stack of assembly.cloudAssembly.stacksRecursively) {
      const result = await failingWith(host, () =>
        toolkit.diff(assembly, {
          stacks: { strategy: StackSelectionStrategy.PATTERN_MUST_MATCH_SINGLE, patterns: [stack.hierarchicalId] },
          method: DiffMethod.LocalFile(empty),
        }),
      );
      Object.assign(changes, result);
    }
    return changes;
  } finally {
    fs.rmSync(scratch, { recursive: true, force: true });
  }
}

export async function synthEnvironment(command: Command<'synth'>, io: EnvIo): Promise<number> {
  const config = configOf(command.target, command.target.account, lifetimeFor(command.lifetime, undefined, io));
  const outdir = path.resolve(command.outdir ?? path.join('cdk.out', `env-${config.name}`));
  const { toolkit, host } = toolkitFor(io, {});
  if (!command.bundling) {
    io.err('skipping Lambda bundling (--no-bundling): the assembly cannot be deployed as it is');
  }
  const assembly = await failingWith(host, async () => toolkit.synth(await environmentAssembly(toolkit, { config, bundling: command.bundling, outdir })));
  try {
    const stacks = assembly.cloudAssembly.stacksRecursively.map((stack) => ({
      stackName: stack.stackName,
      region: stack.environment.region,
      templateFile: path.join(assembly.cloudAssembly.directory, stack.templateFile),
      templateBytes: fs.statSync(path.join(assembly.cloudAssembly.directory, stack.templateFile)).size,
      tags: stack.tags,
    }));
    if (command.json) {
      io.out(json({ environment: config.name, outdir: assembly.cloudAssembly.directory, stacks }));
    } else {
      const width = Math.max(...stacks.map((stack) => stack.stackName.length));
      io.out(
        [
          `${config.name}: ${stacks.length} stacks in ${assembly.cloudAssembly.directory}`,
          ...stacks.map((stack) => `  ${stack.stackName.padEnd(width)}  ${stack.region.padEnd(14)}  ${(stack.templateBytes / 1024).toFixed(1).padStart(6)} KiB`),
          `tags: ${Object.entries(stacks[0]?.tags ?? {}).map(([key, value]) => `${key}=${value}`).join(' ')}`,
        ].join('\n') + '\n',
      );
    }
    return 0;
  } finally {
    await assembly.dispose();
  }
}

function toolkitFor(io: EnvIo, sinks: Omit<ProgressSinks, 'progress'>): { toolkit: Toolkit; host: ProgressIoHost } {
  const host = new ProgressIoHost({ ...sinks, progress: (line) => io.err(line) });
  return { toolkit: new Toolkit({ ioHost: host, emojis: false, color: false }), host };
}

/**
 * Runs a toolkit action; when it throws, the error names the first error the toolkit reported
 * (a stack's failed resource, say) rather than only its summary ("1 stack failed").
 */
async function failingWith<T>(host: ProgressIoHost, action: () => Promise<T>): Promise<T> {
  try {
    return await action();
  } catch (error) {
    const message = (error as Error).message.split('\n')[0];
    const first = host.errors.find((text) => text !== message);
    throw new Error(first ? `${message} (first error: ${first})` : message);
  }
}

/** The credentials' account. An `--account` naming another is refused: these credentials could not deploy there. */
function accountFor(target: Target, identity: CallerIdentity): string {
  if (target.account !== undefined && target.account !== identity.account) {
    throw new UsageError(`--account ${target.account} is not the account of your AWS credentials (${identity.account} as ${identity.arn})`);
  }
  return identity.account;
}

function configOf(target: Target, account: string | undefined, lifetime?: { creator: string; expiresAt: string }): EnvironmentConfig {
  return resolveEnvironment({
    name: target.name,
    account,
    primaryRegion: target.primaryRegion,
    secondaryRegion: target.secondaryRegion,
    creator: lifetime?.creator,
    expiresAt: lifetime?.expiresAt,
  });
}

/** What diff and synth show for an ephemeral environment: the tags a create now would give it. */
function lifetimeFor(request: LifetimeRequest | undefined, identity: CallerIdentity | undefined, io: EnvIo): { creator: string; expiresAt: string } | undefined {
  if (request === undefined) {
    return undefined;
  }
  return {
    creator: request.creator ?? creatorTagValue(identity ? callerName(identity.arn) : io.osUser()),
    expiresAt: expiryAfter(io.now(), request.ttlSeconds),
  };
}

/** `alice` of `arn:aws:iam::123456789012:user/alice` or `arn:aws:sts::123456789012:assumed-role/Deployer/alice`. */
export function callerName(arn: string): string {
  return arn.split('/').pop()?.split(':').pop() ?? arn;
}

function json(value: unknown): string {
  return `${JSON.stringify(value, null, 2)}\n`;
}
