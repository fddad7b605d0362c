import * as path from 'node:path';

/** Where the local platform keeps everything, under one working directory (`.nearstream/` by default). */
export interface PlatformLayout {
  readonly root: string;
  readonly dynamodbDir: string;
  readonly s3Dir: string;
  readonly identityDir: string;
  readonly logsDir: string;
  readonly buildDir: string;
  readonly mediaDir: string;
  readonly appliancesDir: string;
  /** Keys made once: the URL-signing key ring, the origin's key pair, the dev viewer's password. */
  readonly keysFile: string;
  /** The KMS stand-ins' master keys (one content key per region), so a restart still opens the content keys it sealed. */
  readonly kmsStateFile: string;
  /** What a running platform tells `npm run local` commands: its URLs, endpoints and appliances. */
  readonly stateFile: string;
  /** Held by the running platform: a second `npm start` finds it. */
  readonly lockFile: string;
}

export function layoutOf(root: string): PlatformLayout {
  const absolute = path.resolve(root);
  const at = (name: string) => path.join(absolute, name);
  return {
    root: absolute,
    dynamodbDir: at('dynamodb'),
    s3Dir: at('s3'),
    identityDir: at('identity'),
    logsDir: at('logs'),
    buildDir: at('build'),
    mediaDir: at('media'),
    appliancesDir: at('appliances'),
    keysFile: at('keys.json'),
    kmsStateFile: at('kms.json'),
    stateFile: at('platform.json'),
    lockFile: at('platform.lock'),
  };
}

export const DEFAULT_BASE_PORT = 4500;

/** The loopback ports, fixed offsets from one base so that a restart keeps every URL (tokens carry the issuer's). */
export interface PlatformPorts {
  readonly page: number;
  readonly issuer: number;
  readonly regions: readonly [number, number];
  readonly dynamodb: number;
  readonly s3: number;
  readonly secrets: number;
  readonly cloudfront: number;
  /** One KMS stand-in per region, A then B: a KMS key lives in one region. */
  readonly kms: readonly [number, number];
  readonly appliances: readonly number[];
}

export function portsOf(base: number, applianceCount: number): PlatformPorts {
  return {
    page: base,
    issuer: base + 1,
    regions: [base + 2, base + 3],
    dynamodb: base + 4,
    s3: base + 5,
    secrets: base + 6,
    cloudfront: base + 7,
    kms: [base + 8, base + 9],
    appliances: Array.from({ length: applianceCount }, (_, i) => base + 10 + i),
  };
}

/** Every port with what it is for, to name the one that is taken. */
export function namedPorts(ports: PlatformPorts): { port: number; what: string }[] {
  return [
    { port: ports.page, what: 'the web page' },
    { port: ports.issuer, what: 'the OIDC issuer' },
    { port: ports.regions[0], what: 'region A' },
    { port: ports.regions[1], what: 'region B' },
    { port: ports.dynamodb, what: 'DynamoDB Local' },
    { port: ports.s3, what: 'the S3 server' },
    { port: ports.secrets, what: 'the Secrets Manager stand-in' },
    { port: ports.cloudfront, what: 'the CloudFront stand-in' },
    { port: ports.kms[0], what: 'the KMS stand-in of region A' },
    { port: ports.kms[1], what: 'the KMS stand-in of region B' },
    ...ports.appliances.map((port, i) => ({ port, what: `appliance #${i + 1}` })),
  ];
}
