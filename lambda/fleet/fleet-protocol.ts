import { createHash } from 'node:crypto';
import { z } from 'zod';
import { parsePrefix } from '../playback/ip-prefix';
import { REQUEST_LIMITS } from '../shared/control-table';
import { decimalNumber, idField, wholeNumber } from '../shared/request-fields';

/** Planning places at most this many titles on one appliance; holdings carry one bit for each. */
export const MAX_PLACEMENT_TITLES = REQUEST_LIMITS.placementTitles;
export const MAX_PREFIXES = 256;
/** The fastest appliance the fleet plans for; egress is kept to the Mbps. */
const egressGbps = (min: number) => decimalNumber(min, 1000, 3);
/** Shares (load, error rate) are kept to six decimal places. */
const share = decimalNumber(0, 1, 6);

export const applianceIdSchema = idField('appliance');
export const titleIdSchema = idField('title');

export const registrationSchema = z.strictObject({
  applianceId: applianceIdSchema,
  clusterId: idField('cluster'),
  region: z.string().regex(/^[a-z]{2}(?:-gov)?-[a-z]{1,16}-\d$/, 'must be an AWS region name like us-east-1'),
  baseUrl: z
    .url({ protocol: /^https?$/, error: 'must be an http(s) URL with no path, like https://oca-1.isp.example' })
    .max(REQUEST_LIMITS.baseUrlChars)
    // Refinements run even after the URL check failed, so this one must not throw on a non-URL.
    .refine((text) => {
      const url = URL.canParse(text) ? new URL(text) : undefined;
      return url !== undefined && (url.pathname === '/' || url.pathname === '') && !url.search && !url.hash;
    }, 'must be an http(s) URL with no path, like https://oca-1.isp.example')
    .transform((text) => text.replace(/\/$/, '')),
  capacity: z.strictObject({
    egressGbps: egressGbps(0.001),
    diskBytes: wholeNumber(1, Number.MAX_SAFE_INTEGER),
  }),
  prefixes: z
    .array(
      z.string().max(REQUEST_LIMITS.prefixChars).superRefine((text, context) => {
        const parsed = parsePrefix(text);
        if (typeof parsed === 'string') {
          context.addIssue({ code: 'custom', message: parsed });
        }
      }),
    )
    .min(1, 'must list at least one client prefix the appliance serves')
    .max(MAX_PREFIXES),
});
export type Registration = z.infer<typeof registrationSchema>;

/** The largest holdings bitmap: one bit per title of the longest placement, base64url. */
const MAX_HELD_CHARS = Math.ceil(Math.ceil(MAX_PLACEMENT_TITLES / 8) / 3) * 4;

/**
 * What an appliance holds, relative to what planning placed on it: "of generation G's placement,
 * the titles at these positions are complete and verified", one bit per placed title in
 * placement order (`placementOrder`), base64url. 4 KB at most however long the title ids are, and
 * sent only when it changed: the control plane reads the placement itself.
 */
export const holdingsSchema = z
  .strictObject({
    generation: wholeNumber(1, Number.MAX_SAFE_INTEGER),
    held: z
      .string()
      .max(MAX_HELD_CHARS, `must be at most ${MAX_HELD_CHARS} characters: one bit per placed title, up to ${MAX_PLACEMENT_TITLES} titles`)
      .regex(/^[A-Za-z0-9_-]*$/, 'must be base64url without padding'),
    count: wholeNumber(0, MAX_PLACEMENT_TITLES),
  })
  .superRefine((holdings, context) => {
    if (holdings.held.length % 4 === 1) {
      context.addIssue({ code: 'custom', path: ['held'], message: 'is not valid base64url (its length leaves a lone character)' });
      return;
    }
    if (countBits(Buffer.from(holdings.held, 'base64url')) !== holdings.count) {
      context.addIssue({ code: 'custom', path: ['count'], message: 'does not match the number of bits set in held' });
    }
  });
export type Holdings = z.infer<typeof holdingsSchema>;

/**
 * A periodic report: health only, well under 1 KB. `holdings` comes along only when what the node
 * holds changed since the control plane last acknowledged it (the response says what it stored).
 */
export const reportSchema = z.strictObject({
  applianceId: applianceIdSchema,
  health: z.strictObject({
    load: share,
    egressGbps: egressGbps(0),
    diskUsedBytes: wholeNumber(0, Number.MAX_SAFE_INTEGER),
    errorRate: share,
  }),
  holdings: holdingsSchema.optional(),
});
export type HealthReport = z.infer<typeof reportSchema>;

/** The holdings of a node holding `held` out of `placement` (its placed titles, in placement order). */
export function holdingsOf(generation: number, placement: readonly string[], held: ReadonlySet<string>): Holdings {
  if (placement.length > MAX_PLACEMENT_TITLES) {
    throw new Error(`a placement of ${placement.length} titles is more than the ${MAX_PLACEMENT_TITLES} the control plane tracks`);
  }
  const bits = Buffer.alloc(Math.ceil(placement.length / 8));
  let count = 0;
  placement.forEach((titleId, position) => {
    if (held.has(titleId)) {
      bits[position >>> 3] |= 0x80 >>> (position & 7);
      count++;
    }
  });
  return { generation, held: bits.toString('base64url'), count };
}

/** The titles `holdings` says are held, given the placement they are relative to; positions past its end are ignored. */
export function heldPositions(holdings: Pick<Holdings, 'held'>, placementLength: number): number[] {
  const bits = Buffer.from(holdings.held, 'base64url');
  const positions: number[] = [];
  for (let position = 0; position < Math.min(placementLength, bits.length * 8); position++) {
    if ((bits[position >>> 3] & (0x80 >>> (position & 7))) !== 0) {
      positions.push(position);
    }
  }
  return positions;
}

/** Identifies one holdings report: both sides compute it, so a node knows when the control plane has what it holds. */
export function holdingsDigest(holdings: Pick<Holdings, 'generation' | 'held'>): string {
  return createHash('sha256').update(`${holdings.generation}\n${holdings.held}`).digest('base64url').slice(0, 22);
}

function countBits(bytes: Uint8Array): number {
  let count = 0;
  for (const byte of bytes) {
    let value = byte;
    while (value !== 0) {
      value &= value - 1;
      count++;
    }
  }
  return count;
}
