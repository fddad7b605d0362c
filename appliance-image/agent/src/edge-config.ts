import * as fs from 'node:fs';
import { MAX_TOKEN_LIFETIME_SECONDS, TOKEN_CLOCK_SKEW_SECONDS, UNCAPPED_MAX_HEIGHT } from '../../../lambda/shared/url-token';
import { AgentConfig } from './config';

export interface EdgeOptions {
  /** `address:port` nginx listens on, e.g. `0.0.0.0:443` or `127.0.0.1:8080`. */
  readonly listen: string;
  /** Where `token.js` is installed. */
  readonly njsDir: string;
  /** The JSON access log's file, or `off`. */
  readonly accessLog: string;
}

/** Renders the nginx server block for this node from the template shipped in the image. */
export function renderEdgeConfig(template: string, config: Pick<AgentConfig, 'applianceId' | 'cacheDir' | 'keyringFile'>, options: EdgeOptions): string {
  const values: Record<string, string> = {
    listen: options.listen,
    njsDir: options.njsDir,
    accessLog: options.accessLog,
    applianceId: config.applianceId,
    cacheDir: config.cacheDir.replace(/\/$/, ''),
    keyringFile: config.keyringFile,
  };
  for (const [name, value] of Object.entries(values)) {
    if (/["\s;{}]/.test(value)) {
      throw new Error(`edge config: ${name} '${value}' may not contain quotes, spaces, ';' or braces`);
    }
  }
  const rendered: Record<string, string> = {
    ...values,
    accessLog: options.accessLog === 'off' ? 'off' : `${options.accessLog} nearstream_json`,
    // The token rules the control plane signs by, so the edge cannot drift from them.
    maxTokenLifetimeSeconds: String(MAX_TOKEN_LIFETIME_SECONDS + TOKEN_CLOCK_SKEW_SECONDS),
    uncappedMaxHeight: String(UNCAPPED_MAX_HEIGHT),
  };
  return template.replace(/\{\{(\w+)\}\}/g, (placeholder, name: string) => {
    if (!(name in rendered)) {
      throw new Error(`edge config template: unknown placeholder ${placeholder}`);
    }
    return rendered[name];
  });
}

/**
 * Reads the server-block template. The caller names it: the source tree, the bundled agent and an
 * installed node keep it in different places.
 */
export function readEdgeTemplate(file: string): string {
  return fs.readFileSync(file, 'utf8');
}
