import type { APIGatewayProxyEvent } from 'aws-lambda';
import { DRM_SYSTEMS, DrmSystem, KeyGroup } from '../../../lambda/shared/content-protection';

/** The kids of the request below, one per key group, in the UUID form CPIX writes. */
export const KIDS: Record<KeyGroup, string> = {
  AUDIO: '0c54f2b0-b433-45a4-ae73-664438bb0b4e',
  SD: '93f5fb58-1df7-4752-acb2-6cf1e75b4910',
  HD1: '5d2b1a3e-7c44-4f0b-9e61-2a8d3c4b5e6f',
  HD2: 'e1f85ce6-5c99-442c-8cdf-5063550ca95b',
  UHD: '03341606-452b-46dd-8934-7e0720ba4f21',
};

export const hex = (uuid: string) => uuid.replace(/-/g, '').toLowerCase();

export const EXPLICIT_IV = 'OFj2IjCsPJFfMAxmQxLGPw==';

export interface RequestOptions {
  readonly contentId?: string;
  readonly systems?: readonly DrmSystem[];
  readonly scheme?: string;
  readonly kids?: Partial<Record<KeyGroup, string>>;
  readonly groups?: readonly KeyGroup[];
}

/**
 * A SPEKE v2.0 request as MediaConvert sends it for CMAF output under PRESET-VIDEO-6 and
 * PRESET-AUDIO-1 (the shape of the SPEKE v2 specification's VOD example and of AWS's SPEKE v2
 * verification requests): one key per track type, a DRMSystem per key and system asking for PSSH,
 * ContentProtectionData and both HLS playlists, one key period, and usage rules with the preset's
 * filters. The SD key carries an explicitIV.
 */
export function mediaConvertRequest(options: RequestOptions = {}): string {
  const contentId = options.contentId ?? 'title-42';
  const systems = options.systems ?? ['clearkey', 'widevine'];
  const scheme = options.scheme ?? 'cbcs';
  const kids = { ...KIDS, ...options.kids };
  const groups = options.groups ?? (['SD', 'HD1', 'HD2', 'UHD', 'AUDIO'] as const);
  const period = 'keyPeriod_2e19ac38-22d3-4bb2-b290-95a72f4732ef';
  const filters: Record<KeyGroup, string> = {
    SD: '<cpix:VideoFilter maxPixels="589824"/>',
    HD1: '<cpix:VideoFilter minPixels="589825" maxPixels="921600"/>',
    HD2: '<cpix:VideoFilter minPixels="921601" maxPixels="2073600"/>',
    UHD: '<cpix:VideoFilter minPixels="2073601"/>',
    AUDIO: '<cpix:AudioFilter/>',
  };
  return `<?xml version="1.0" encoding="UTF-8"?>
<cpix:CPIX contentId="${contentId}" version="2.3" xmlns:cpix="urn:dashif:org:cpix" xmlns:pskc="urn:ietf:params:xml:ns:keyprov:pskc">
  <cpix:ContentKeyList>
${groups
  .map(
    (group) => `    <cpix:ContentKey kid="${kids[group]}" commonEncryptionScheme="${scheme}"${group === 'SD' ? ` explicitIV="${EXPLICIT_IV}"` : ''}>
    </cpix:ContentKey>`,
  )
  .join('\n')}
  </cpix:ContentKeyList>
  <cpix:DRMSystemList>
${systems
  .flatMap((system) =>
    groups.map(
      (group) => `    <!-- ${system} for the ${group} key -->
    <cpix:DRMSystem kid="${kids[group]}" systemId="${DRM_SYSTEMS[system].systemId}">
${system === 'fairplay' ? '' : '      <cpix:PSSH/>\n      <cpix:ContentProtectionData/>\n'}      <cpix:HLSSignalingData playlist="media">
      </cpix:HLSSignalingData>
      <cpix:HLSSignalingData playlist="master">
      </cpix:HLSSignalingData>
    </cpix:DRMSystem>`,
    ),
  )
  .join('\n')}
  </cpix:DRMSystemList>
  <cpix:ContentKeyPeriodList>
    <cpix:ContentKeyPeriod id="${period}" index="0"/>
  </cpix:ContentKeyPeriodList>
  <cpix:ContentKeyUsageRuleList>
${groups
  .map(
    (group) => `    <cpix:ContentKeyUsageRule kid="${kids[group]}" intendedTrackType="${group}">
      <cpix:KeyPeriodFilter periodId="${period}"/>
      ${filters[group]}
    </cpix:ContentKeyUsageRule>`,
  )
  .join('\n')}
  </cpix:ContentKeyUsageRuleList>
</cpix:CPIX>
`;
}

export const MEDIACONVERT_ROLE = 'arn:aws:sts::123456789012:assumed-role/nearstream-mediaconvert/job';

export interface SpekeEventOptions {
  readonly headers?: Record<string, string | undefined>;
  readonly base64?: boolean;
  readonly method?: string;
}

/** A REST API (v1) proxy event as API Gateway passes MediaConvert's SigV4-signed SPEKE call on (`POST /speke/v2`). */
export function spekeEvent(body: string | null, options: SpekeEventOptions = {}): APIGatewayProxyEvent {
  const headers = Object.fromEntries(
    Object.entries({ 'Content-Type': 'application/xml', 'X-Speke-Version': '2.0', ...options.headers }).filter(([, value]) => value !== undefined),
  ) as Record<string, string>;
  return {
    resource: '/speke/v2',
    path: '/speke/v2',
    httpMethod: options.method ?? 'POST',
    headers,
    multiValueHeaders: Object.fromEntries(Object.entries(headers).map(([name, value]) => [name, [value]])),
    queryStringParameters: null,
    multiValueQueryStringParameters: null,
    pathParameters: null,
    stageVariables: null,
    requestContext: { requestId: 'request-7', identity: { userArn: MEDIACONVERT_ROLE } } as unknown as APIGatewayProxyEvent['requestContext'],
    body: body === null ? null : options.base64 ? Buffer.from(body, 'utf8').toString('base64') : body,
    isBase64Encoded: options.base64 ?? false,
  };
}
