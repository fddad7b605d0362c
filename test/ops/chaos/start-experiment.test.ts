import { FisClient } from '@aws-sdk/client-fis';
import { startExperimentCommand } from '../../../ops/chaos/start-experiment';

interface SentRequest {
  readonly method: string;
  readonly path: string;
  readonly headers: Record<string, string>;
  readonly body: string;
}

/** A real client whose requests stop at a handler that records them and answers as FIS would. */
function recordingClient() {
  const sent: SentRequest[] = [];
  const answer = JSON.stringify({ experiment: { id: 'EXP1', state: { status: 'pending' }, experimentOptions: { actionsMode: 'skip-all' } } });
  const client = new FisClient({
    region: 'us-east-1',
    credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'not-a-secret' },
    requestHandler: {
      handle: async (request: SentRequest) => {
        sent.push(request);
        return { response: { statusCode: 200, headers: { 'content-type': 'application/json' }, body: new TextEncoder().encode(answer) } };
      },
    } as never,
  });
  return { client, sent };
}

describe('startExperimentCommand', () => {
  it('puts experimentOptions.actionsMode in the body FIS receives, with a content length and signature to match', async () => {
    const { client, sent } = recordingClient();

    const answer = await client.send(startExperimentCommand({ experimentTemplateId: 'EXT1', clientToken: 'token-1', experimentOptions: { actionsMode: 'skip-all' } }));

    expect(sent).toHaveLength(1);
    const [request] = sent;
    expect(request.method).toBe('POST');
    expect(request.path).toBe('/experiments');
    expect(JSON.parse(request.body)).toEqual({ experimentTemplateId: 'EXT1', clientToken: 'token-1', experimentOptions: { actionsMode: 'skip-all' } });
    expect(Number(request.headers['content-length'])).toBe(Buffer.byteLength(request.body));
    expect(request.headers.authorization).toMatch(/^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE\/\d{8}\/us-east-1\/fis\/aws4_request/);
    expect(answer.experiment?.experimentOptions).toEqual({ actionsMode: 'skip-all' });
  });

  it('sends the plain request when there are no experiment options', async () => {
    const { client, sent } = recordingClient();

    await client.send(startExperimentCommand({ experimentTemplateId: 'EXT1', clientToken: 'token-2', tags: { 'nearstream:started-by': 'alice' } }));

    expect(JSON.parse(sent[0].body)).toEqual({ experimentTemplateId: 'EXT1', clientToken: 'token-2', tags: { 'nearstream:started-by': 'alice' } });
  });
});
