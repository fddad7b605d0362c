import type { IoMessage, IoRequest } from '@aws-cdk/toolkit-lib';
import { formatElapsed, ProgressIoHost } from '../../../ops/env/progress-io-host';

/** A toolkit message as toolkit-lib sends it; only code, level, message and data matter to the host. */
function message(code: string | undefined, level: IoMessage<unknown>['level'], data: unknown = undefined, text = ''): IoMessage<unknown> {
  return { time: new Date(), level, action: 'deploy', code: code as IoMessage<unknown>['code'], message: text, data };
}

function activity(stackName: string, completed: number, status: string, logicalId: string, reason?: string): IoMessage<unknown> {
  return message('CDK_TOOLKIT_I5502', 'info', {
    deployment: 'd',
    event: { StackName: stackName, LogicalResourceId: logicalId, ResourceType: 'AWS::Lambda::Function', ResourceStatus: status, ResourceStatusReason: reason },
    progress: { completed, total: 40, formatted: '' },
  });
}

function hostAt(clockMs: { now: number }) {
  const lines: string[] = [];
  const diffs: [string, string][] = [];
  const host = new ProgressIoHost({ progress: (line) => lines.push(line), diff: (stack, text) => diffs.push([stack, text]) }, { clock: () => clockMs.now });
  return { host, lines, diffs };
}

describe('ProgressIoHost', () => {
  it('prints each stack starting and finishing, with the time it took and the time since the start', async () => {
    const clock = { now: 0 };
    const { host, lines } = hostAt(clock);

    clock.now = 5_000;
    await host.notify(message('CDK_TOOLKIT_I5100', 'info', { total: 6, current: 2, stack: { stackName: 'nearstream-pr-7-data' } }));
    clock.now = 130_000;
    await host.notify(message('CDK_TOOLKIT_I5900', 'result', { stackArn: 'arn:aws:cloudformation:us-east-1:123456789012:stack/nearstream-pr-7-data/0f1e', noOp: false, outputs: {} }));

    expect(lines).toEqual(['[5s] deploying nearstream-pr-7-data (2/6)', '[2m10s] deployed nearstream-pr-7-data in 2m05s']);
  });

  it('compresses resource progress to one line per stack per interval, and always names a failed resource with its reason', async () => {
    const clock = { now: 0 };
    const { host, lines } = hostAt(clock);

    for (let second = 1; second <= 20; second++) {
      clock.now = second * 1000;
      await host.notify(activity('nearstream-pr-7-data', second, 'CREATE_IN_PROGRESS', `Resource${second}`));
    }
    await host.notify(activity('nearstream-pr-7-data', 20, 'CREATE_FAILED', 'PlayFunction', 'Resource handler returned message: "Code storage limit exceeded"'));
    await host.notify(activity('nearstream-pr-7-data', 20, 'CREATE_FAILED', 'Other', 'Resource creation cancelled'));

    expect(lines).toEqual([
      '[1s]   nearstream-pr-7-data: 1/40 resources (CREATE_IN_PROGRESS Resource1)',
      '[16s]   nearstream-pr-7-data: 16/40 resources (CREATE_IN_PROGRESS Resource16)',
      '[20s]   nearstream-pr-7-data: PlayFunction (AWS::Lambda::Function) CREATE_FAILED: Resource handler returned message: "Code storage limit exceeded"',
    ]);
  });

  it('names errors and keeps them for the failure message, and drops debug and trace chatter', async () => {
    const { host, lines } = hostAt({ now: 0 });

    await host.notify(message(undefined, 'debug', undefined, 'context: {...}'));
    await host.notify(message('CDK_SDK_I0100', 'trace', undefined, 'GetTemplate'));
    await host.notify(message('CDK_TOOLKIT_E5500', 'error', { error: new Error('ignored') }, 'nearstream-pr-7-data failed: ROLLBACK_COMPLETE\nmore detail'));
    await host.notify(message('CDK_TOOLKIT_W5021', 'warn', undefined, 'empty stack skipped'));
    await host.notify(message('CDK_TOOLKIT_W5021', 'warn', undefined, 'empty stack skipped'));

    expect(lines).toEqual(['[0s] error: nearstream-pr-7-data failed: ROLLBACK_COMPLETE', '[0s] warning: empty stack skipped']);
    expect(host.errors).toEqual(['nearstream-pr-7-data failed: ROLLBACK_COMPLETE']);
  });

  it('hands each stack diff to the diff sink', async () => {
    const { host, diffs, lines } = hostAt({ now: 0 });
    await host.notify(message('CDK_TOOLKIT_I4002', 'result', { stack: { stackName: 'nearstream-pr-7-data' }, formattedDiff: { diff: 'Resources\n[+] AWS::S3::Bucket', security: 'Resources\n[+] AWS::S3::Bucket' } }));
    expect(diffs).toEqual([['nearstream-pr-7-data', 'Resources\n[+] AWS::S3::Bucket']]);
    expect(lines).toEqual([]);
  });

  it("confirms the toolkit's deploy and destroy questions (the command asked already) and gives other requests their default", async () => {
    const { host } = hostAt({ now: 0 });
    const request = (code: string, defaultResponse: unknown) => ({ ...message(code, 'info'), defaultResponse }) as IoRequest<unknown, unknown>;
    await expect(host.requestResponse(request('CDK_TOOLKIT_I5060', false))).resolves.toBe(true);
    await expect(host.requestResponse(request('CDK_TOOLKIT_I7010', false))).resolves.toBe(true);
    await expect(host.requestResponse(request('CDK_SDK_I1100', ''))).resolves.toBe('');
  });
});

describe('formatElapsed', () => {
  it('reads as seconds, minutes or hours', () => {
    expect([formatElapsed(44_600), formatElapsed(125_000), formatElapsed(3_725_000)]).toEqual(['45s', '2m05s', '1h02m']);
  });
});
