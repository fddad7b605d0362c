import { PlatformState } from './platform-state';

/** Logs in as the dev viewer with the issuer's password grant, as the web page does; returns the access token. */
export async function loginAsDevViewer(state: PlatformState): Promise<string> {
  const response = await fetch(state.issuer.tokenUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'password', username: state.viewer.username, password: state.viewer.password, client_id: state.issuer.audience }),
    signal: AbortSignal.timeout(5_000),
  });
  const body = (await response.json()) as { access_token?: string; error_description?: string };
  if (!response.ok || !body.access_token) {
    throw new Error(`login at ${state.issuer.tokenUrl} failed: ${response.status} ${body.error_description ?? ''}`.trim());
  }
  return body.access_token;
}

/** The regions as the player and the page reach them, A first. */
export function regionEndpoints(state: PlatformState): { name: string; apiUrl: string }[] {
  return state.regions.map((region) => ({ name: `${region.label} ${region.name}`, apiUrl: region.url }));
}
