import { createHash, createHmac } from 'node:crypto';
import { defaultProvider } from '@aws-sdk/credential-provider-node';
import { SignatureV4 } from '@smithy/signature-v4';

type SourceData = string | ArrayBuffer | ArrayBufferView;

function toBuffer(data: SourceData): Buffer {
  if (typeof data === 'string') {
    return Buffer.from(data, 'utf8');
  }
  return ArrayBuffer.isView(data) ? Buffer.from(data.buffer, data.byteOffset, data.byteLength) : Buffer.from(new Uint8Array(data));
}

/** SHA-256 (and HMAC-SHA256) for SigV4, from Node's own crypto. */
class Sha256 {
  private hash;
  constructor(private readonly secret?: SourceData) {
    this.hash = this.fresh();
  }
  private fresh() {
    return this.secret ? createHmac('sha256', toBuffer(this.secret)) : createHash('sha256');
  }
  update(data: SourceData): void {
    this.hash.update(toBuffer(data));
  }
  async digest(): Promise<Uint8Array> {
    return new Uint8Array(this.hash.digest());
  }
  reset(): void {
    this.hash = this.fresh();
  }
}

/**
 * A SigV4 signer with the node's credentials: the instance profile on EC2, IAM Roles Anywhere
 * (credential_process) on bare metal. Every signer shares one provider, which fetches credentials
 * once and refreshes them before they expire.
 */
let credentials: ReturnType<typeof defaultProvider> | undefined;

export function nodeSigner(service: 'execute-api' | 's3', region: string): SignatureV4 {
  // S3 signs the path as sent; every other service wants it encoded twice.
  return new SignatureV4({ service, region, credentials: (credentials ??= defaultProvider()), sha256: Sha256, uriEscapePath: service !== 's3' });
}
