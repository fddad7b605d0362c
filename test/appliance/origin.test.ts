import { Origin, OriginError } from '../../appliance-image/agent/src/origin';
import { AGENT_CREDENTIALS, APPLIANCE_IDENTITY } from '../support/agent-harness';
import { leastPrivilege } from '../support/iam/least-privilege';
import { SigV4RecordingProxy } from '../support/iam/sigv4-recording-proxy';
import { S3Server } from '../support/s3-server';

describe('the origin reader', () => {
  let s3: S3Server;
  let proxy: SigV4RecordingProxy;
  let origin: Origin;
  const saved = { ...process.env };
  // The agent reports any answer but 200 as the object's failure: a 403 for a missing object does as well as a 404.
  leastPrivilege({ buckets: { origin: 'origin' }, treatsForbiddenAsMissing: ['appliance-bare-metal'] }).observe(APPLIANCE_IDENTITY, { take: () => proxy.take() });

  beforeAll(async () => {
    s3 = await S3Server.start(['origin']);
    Object.assign(process.env, AGENT_CREDENTIALS);
    proxy = await SigV4RecordingProxy.start(s3.endpoint);
    origin = new Origin('us-east-1', proxy.url);
  });

  afterAll(async () => {
    process.env = saved;
    await proxy.stop();
    await s3.stop();
  });

  async function text(body: NodeJS.ReadableStream): Promise<string> {
    let all = '';
    for await (const chunk of body) all += chunk.toString();
    return all;
  }

  it('reads an object whose key needs escaping, whole and from an offset', async () => {
    const key = "titles/it's (a) test!/avc1/seg 1*.m4s";
    await s3.put('origin', key, '0123456789');

    const whole = await origin.read('origin', key);
    const rest = await origin.read('origin', key, 4);

    expect(whole.startsAt).toBe(0);
    expect(await text(whole.body)).toBe('0123456789');
    expect(rest.startsAt).toBe(4);
    expect(await text(rest.body)).toBe('456789');
  });

  it('names the object, the status and the S3 error code when an object is missing', async () => {
    const missing = origin.read('origin', 'titles/none/avc1/seg-0.m4s');
    await expect(missing).rejects.toThrow(OriginError);
    await expect(missing).rejects.toThrow('GET s3://origin/titles/none/avc1/seg-0.m4s answered 404 (NoSuchKey)');
  });

  it('reads small objects as text', async () => {
    await s3.put('origin', 'manifests/isp-a/1.json', '{"generation":1}');
    expect(await origin.readText('origin', 'manifests/isp-a/1.json')).toBe('{"generation":1}');
  });
});
