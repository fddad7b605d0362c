import * as fs from 'node:fs';
import * as path from 'node:path';
import { Match } from 'aws-cdk-lib/assertions';
import { CODECS } from '../../lambda/catalog/catalog';
import { jobSettings } from '../../lambda/encoding/ladder';
import { cloudFrontSigner } from '../../lambda/playback/origin-signer';
import { bareOriginTier } from '../support/bare-origin-tier';
import { cloudFrontKeyPair } from '../support/fixtures';

type Response = { statusCode: number } | { uri: string };
interface ViewerRequest {
  uri: string;
  querystring: Record<string, { value: string; multiValue?: { value: string }[] }>;
  cookies: Record<string, { value: string; multiValue?: { value: string }[] }>;
}

/** The function's code as CloudFront runs it: a script defining `handler`, with Buffer at hand. */
const handler = new Function('Buffer', `${fs.readFileSync(path.join(__dirname, '..', '..', 'lambda', 'edge', 'rendition-guard.js'), 'utf8')}\nreturn handler;`)(Buffer) as (event: {
  request: ViewerRequest;
}) => Response;

const DOMAIN = 'd111111abcdef8.cloudfront.net';
const signer = cloudFrontSigner({ domainName: DOMAIN, keyPairId: 'K2JCJMDEHXQW5F', privateKeyPem: cloudFrontKeyPair().privateKeyPem });
const MANIFESTS = { hls: 'titles/movie-1/avc1/index.cap720.m3u8', dash: 'titles/movie-1/avc1/index.cap720.mpd' };
const capped = (maxHeight: number) => signer.sign('movie-1', MANIFESTS, 1_900_000_000, { directory: 'titles/movie-1/avc1/', maxHeight });

const request = (file: string, cookies: ViewerRequest['cookies'] = {}, querystring: ViewerRequest['querystring'] = {}): ViewerRequest => ({
  uri: `/titles/movie-1/avc1/${file}`,
  querystring,
  cookies,
});
const withCookie = (file: string, maxHeight: number) => request(file, { 'CloudFront-Policy': { value: capped(maxHeight).cookies['CloudFront-Policy'] } });
const refused = (response: Response) => 'statusCode' in response && response.statusCode === 403;

describe('the origin tier\'s rendition guard (CloudFront Function)', () => {
  it('refuses a rendition above the signed policy\'s height, and passes those at or below it', () => {
    expect(refused(handler({ request: withCookie('index_avc1_1080p_000000001.cmfv', 720) }))).toBe(true);
    expect(refused(handler({ request: withCookie('index_avc1_1080pinit.cmfv', 720) }))).toBe(true);
    expect(refused(handler({ request: withCookie('index_avc1_1080p.m3u8', 720) }))).toBe(true);
    expect(handler({ request: withCookie('index_avc1_720p_000000001.cmfv', 720) })).toMatchObject({ uri: '/titles/movie-1/avc1/index_avc1_720p_000000001.cmfv' });
    expect(handler({ request: withCookie('index_avc1_234p.m3u8', 720) })).toMatchObject({ uri: expect.any(String) });
  });

  it('refuses any escaped name, which could hide a rung\'s height from the check while S3 decodes it', () => {
    expect(refused(handler({ request: withCookie('index_avc1_2160%70_000000001.cmfv', 720) }))).toBe(true);
    expect(refused(handler({ request: withCookie('index%5Favc1_720p_000000001.cmfv', 1080) }))).toBe(true);
  });

  it('reads the policy of a signed manifest URL before any cookie, as CloudFront does', () => {
    const policy = new URL(capped(480).hls).searchParams.get('Policy')!;
    expect(refused(handler({ request: request('index_avc1_540p.m3u8', {}, { Policy: { value: policy } }) }))).toBe(true);
    expect(refused(handler({ request: request('index_avc1_432p.m3u8', {}, { Policy: { value: policy } }) }))).toBe(false);
  });

  it('passes what carries no height in its name (audio, manifests, Automated ABR renditions): what is left to close', () => {
    for (const file of ['index_audio_000000001.cmfa', 'index.cap720.m3u8', 'index_avc1_abr_1_000000001.cmfv']) {
      expect(refused(handler({ request: withCookie(file, 240) }))).toBe(false);
    }
  });

  it('refuses an unreadable policy, and two policies at once', () => {
    expect(refused(handler({ request: request('index_avc1_360p.m3u8', { 'CloudFront-Policy': { value: 'not-a-policy' } }) }))).toBe(true);
    const two = { value: capped(2160).cookies['CloudFront-Policy'], multiValue: [{ value: capped(2160).cookies['CloudFront-Policy'] }, { value: capped(240).cookies['CloudFront-Policy'] }] };
    expect(refused(handler({ request: request('index_avc1_360p.m3u8', { 'CloudFront-Policy': two }) }))).toBe(true);
  });

  it('passes a policy signed before caps (it lives a day at most) and an unsigned request, which CloudFront refuses itself', () => {
    const legacy = signer.sign('movie-1', MANIFESTS, 1_900_000_000).cookies['CloudFront-Policy'];
    expect(refused(handler({ request: request('index_avc1_1080p.m3u8', { 'CloudFront-Policy': { value: legacy } }) }))).toBe(false);
    expect(refused(handler({ request: request('index_avc1_1080p.m3u8') }))).toBe(false);
  });

  it('reads the height from the name of every rung MediaConvert writes for the fixed ladder, in every codec', () => {
    const names = jobSettings('fixed', () => 's3://b/titles/t/x/').OutputGroups.concat(jobSettings('av1', () => 's3://b/titles/t/x/').OutputGroups)
      .flatMap((group) => group.Outputs!.map((output) => output.NameModifier!))
      .filter((modifier) => modifier !== '_audio');
    expect(new Set(names.map((modifier) => modifier.split('_')[1]))).toEqual(new Set(CODECS));
    for (const modifier of names) {
      const height = Number(/_(\d+)p$/.exec(modifier)![1]);
      expect([modifier, refused(handler({ request: withCookie(`index${modifier}_000000001.cmfv`, height - 1) }))]).toEqual([modifier, true]);
      expect([modifier, refused(handler({ request: withCookie(`index${modifier}_000000001.cmfv`, height) }))]).toEqual([modifier, false]);
    }
  });

  it('runs on every viewer request of the origin distribution, on the 2.0 runtime', () => {
    const { template } = bareOriginTier();
    const [functionId] = Object.keys(template.findResources('AWS::CloudFront::Function'));
    template.hasResourceProperties('AWS::CloudFront::Function', { FunctionConfig: Match.objectLike({ Runtime: 'cloudfront-js-2.0' }), AutoPublish: true });
    template.hasResourceProperties('AWS::CloudFront::Distribution', {
      DistributionConfig: Match.objectLike({
        DefaultCacheBehavior: Match.objectLike({
          FunctionAssociations: [{ EventType: 'viewer-request', FunctionARN: { 'Fn::GetAtt': [functionId, 'FunctionARN'] } }],
        }),
      }),
    });
  });
});
