import * as fs from 'node:fs';
import { z } from 'zod';

/** `/etc/nearstream/agent.json`: everything the agent needs to know about its node. */
export const agentConfigSchema = z.strictObject({
  applianceId: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/, 'must be 1-64 letters, digits, - or _'),
  clusterId: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/, 'must be 1-64 letters, digits, - or _'),
  region: z.string().regex(/^[a-z]{2}(?:-gov)?-[a-z]+-\d$/, 'must be an AWS region name like us-east-1'),
  /** The control plane's base URL, e.g. `https://api.example.com`. */
  controlPlaneUrl: z.url(),
  /** Where players reach this node, e.g. `https://oca-1.isp.example`. */
  baseUrl: z.url(),
  /** Client prefixes this node serves, as the ISP announces them. */
  prefixes: z.array(z.string()).min(1),
  capacity: z.strictObject({ egressGbps: z.number().positive(), diskBytes: z.number().int().positive() }),
  /** The regional origin bucket titles are filled from. */
  originBucket: z.string().min(3),
  /** For the local platform and tests: an S3-compatible endpoint instead of AWS. */
  s3Endpoint: z.url().optional(),
  /** The directory nginx serves; the agent owns it. */
  cacheDir: z.string().startsWith('/'),
  /** Where the agent keeps its state and partial downloads. */
  stateDir: z.string().startsWith('/'),
  /** The key ring nginx checks tokens with, written by `refresh-key`. */
  keyringFile: z.string().startsWith('/'),
  /** The Secrets Manager secret that holds the key ring. */
  keyringSecretId: z.string().optional(),
  /** The cache never holds more than this many bytes. */
  diskCeilingBytes: z.number().int().positive(),
  /** Bytes per second the fill may take from the network, across all downloads. */
  bandwidthCapBytesPerSecond: z.number().int().positive(),
  /** Downloads running at once. */
  parallelism: z.number().int().min(1).max(64).default(4),
  /** Where the agent reads the edge server's load for its health reports. */
  edge: z
    .strictObject({
      /** nginx's JSON access log. */
      accessLog: z.string().startsWith('/'),
      /** nginx's stub_status page, on loopback. */
      statusUrl: z.url().optional(),
      /** Connections the node is sized for; with egress, it makes the load figure. */
      maxConnections: z.number().int().positive().default(20_000),
    })
    .optional(),
  /** The nightly fill window, in whole UTC hours; it may wrap past midnight (22 to 6). */
  fillWindow: z.strictObject({ startHourUtc: z.number().int().min(0).max(23), endHourUtc: z.number().int().min(0).max(23) }),
});
export type AgentConfig = z.infer<typeof agentConfigSchema>;

/** Reads a JSON file and validates it, or throws one error naming the file and the bad field. */
export function readValidatedJson<T>(file: string, schema: z.ZodType<T>, what: string): T {
  let raw: unknown;
  try {
    raw = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (error) {
    throw new Error(`${file}: cannot read the ${what}: ${(error as Error).message}`);
  }
  const result = schema.safeParse(raw);
  if (!result.success) {
    const issue = result.error.issues[0];
    throw new Error(`${file}: ${issue.path.join('.') || '(root)'}: ${issue.message}`);
  }
  return result.data;
}

/** Reads and validates the agent config file. */
export function loadConfig(file: string): AgentConfig {
  return readValidatedJson(file, agentConfigSchema, 'agent config');
}
