import { SignatureV4 } from '@smithy/signature-v4';
import { nodeSigner } from './sigv4';

export interface ManifestPointer {
  readonly clusterId: string;
  readonly generation: number;
  readonly bucket: string;
  readonly key: string;
}

export class ControlPlaneError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = 'ControlPlaneError';
  }
}

/**
 * The fleet routes of the control plane, called with SigV4 (execute-api) using the node's
 * credentials: the instance profile on EC2, IAM Roles Anywhere on bare metal.
 */
export class ControlPlane {
  private readonly signer: SignatureV4;

  constructor(
    private readonly baseUrl: string,
    region: string,
  ) {
    this.signer = nodeSigner('execute-api', region);
  }

  register(body: unknown): Promise<unknown> {
    return this.call('POST', '/fleet/register', body);
  }

  report(body: unknown): Promise<unknown> {
    return this.call('POST', '/fleet/report', body);
  }

  manifestPointer(applianceId: string): Promise<ManifestPointer> {
    return this.call('GET', '/fleet/manifest', undefined, { applianceId }) as Promise<ManifestPointer>;
  }

  private async call(method: string, path: string, body?: unknown, query: Record<string, string> = {}): Promise<unknown> {
    const url = new URL(path, this.baseUrl);
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const signed = await this.signer.sign({
      method,
      protocol: url.protocol,
      hostname: url.hostname,
      port: url.port ? Number(url.port) : undefined,
      path: url.pathname,
      query,
      headers: { host: url.host, ...(payload ? { 'content-type': 'application/json' } : {}) },
      body: payload,
    });
    const search = new URLSearchParams(query).toString();
    const response = await fetch(`${url.origin}${url.pathname}${search ? `?${search}` : ''}`, {
      method,
      headers: signed.headers as Record<string, string>,
      body: payload,
      signal: AbortSignal.timeout(15_000),
    });
    const text = await response.text();
    if (!response.ok) {
      throw new ControlPlaneError(response.status, `${method} ${path} answered ${response.status}: ${text.slice(0, 300)}`);
    }
    return text ? JSON.parse(text) : undefined;
  }
}
