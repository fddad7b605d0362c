import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { RENDITION_GUARD_FILE, ViewerFunctionError, ViewerRequestEvent, ViewerRequestFunction } from '../../local/origin-tier/local-cloudfront';

const event = (uri: string, cookies: ViewerRequestEvent['request']['cookies'] = {}): ViewerRequestEvent => ({
  version: '1.0',
  context: { distributionDomainName: '127.0.0.1:8080', distributionId: 'ELOCALCLOUDFRONT', eventType: 'viewer-request', requestId: 'r-1' },
  viewer: { ip: '127.0.0.1' },
  request: { method: 'GET', uri, querystring: {}, headers: { host: { value: '127.0.0.1:8080' } }, cookies },
});

describe('the local CloudFront stand-in\'s viewer-request function runner', () => {
  let directory: string;
  const functionFile = (name: string, source: string) => {
    const file = path.join(directory, name);
    fs.writeFileSync(file, source);
    return ViewerRequestFunction.fromFile(file);
  };

  beforeAll(() => {
    directory = fs.mkdtempSync(path.join(os.tmpdir(), 'nearstream-cf-function-'));
  });

  afterAll(() => {
    fs.rmSync(directory, { recursive: true, force: true });
  });

  it('passes the request on to the uri the function leaves in it', async () => {
    const rewrite = functionFile('rewrite.js', "function handler(event) { event.request.uri = event.request.uri.replace(/\\/$/, '/index.m3u8'); return event.request; }");

    expect(await rewrite.run(event('/titles/movie-1/avc1/'))).toEqual({ kind: 'request', uri: '/titles/movie-1/avc1/index.m3u8' });
  });

  it('answers with the response the function returns: status, headers, cookies and body', async () => {
    const redirect = functionFile(
      'redirect.js',
      `function handler(event) {
        return { statusCode: 302, statusDescription: 'Found', headers: { Location: { value: '/elsewhere' } },
          cookies: { seen: { value: '1', attributes: 'Path=/' } }, body: { encoding: 'base64', data: Buffer.from('moved').toString('base64') } };
      }`,
    );

    expect(await redirect.run(event('/a'))).toEqual({
      kind: 'response',
      response: { statusCode: 302, statusDescription: 'Found', headers: { location: { value: '/elsewhere' } }, setCookies: ['seen=1; Path=/'], body: Buffer.from('moved') },
    });
  });

  it('counts a function that throws as FunctionExecutionError, and one that returns neither request nor response as FunctionValidationError', async () => {
    const throwing = functionFile('throwing.js', "function handler() { throw new Error('boom'); }");
    const empty = functionFile('empty.js', 'function handler() { return {}; }');

    await expect(throwing.run(event('/a'))).rejects.toMatchObject({ code: 'FunctionExecutionError', message: expect.stringMatching(/throwing\.js failed: boom/) });
    await expect(empty.run(event('/a'))).rejects.toBeInstanceOf(ViewerFunctionError);
    await expect(empty.run(event('/a'))).rejects.toMatchObject({ code: 'FunctionValidationError' });
  });

  it('refuses a file that defines no handler, naming the file', () => {
    expect(() => functionFile('nothing.js', 'var x = 1;')).toThrow(/nothing\.js defines no handler\(event\) function/);
  });

  it('runs the real rendition guard: an escaped name is refused, a name without a height passes', async () => {
    const guard = ViewerRequestFunction.fromFile(RENDITION_GUARD_FILE);

    expect(await guard.run(event('/titles/movie-1/avc1/index_avc1_2160%70_000000001.cmfv'))).toMatchObject({ kind: 'response', response: { statusCode: 403 } });
    expect(await guard.run(event('/titles/movie-1/avc1/index_audio_000000001.cmfa'))).toEqual({ kind: 'request', uri: '/titles/movie-1/avc1/index_audio_000000001.cmfa' });
  });
});
