import { createHash } from 'node:crypto';
import { z } from 'zod';
import { parsePrefix } from '../playback/ip-prefix';
import { REQUEST_LIMITS } from '../shared/control-table';
import { decimalNumber, idField, wholeNumber } from '../shared/request-fields';

/** An appliance reports at most this many titles: its inventory must fit its one DynamoDB item. */
export const MAX_INVENTORY_TITLES = REQUEST_LIMITS.inventoryTitles;
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

export const reportSchema = z
  .strictObject({
    applianceId: applianceIdSchema,
    health: z.strictObject({
      load: share,
      egressGbps: egressGbps(0),
      diskUsedBytes: wholeNumber(0, Number.MAX_SAFE_INTEGER),
      errorRate: share,
    }),
    inventory: z.strictObject({
      titles: z.array(titleIdSchema).max(MAX_INVENTORY_TITLES),
      digest: z.string().regex(/^[0-9a-f]{64}$/, 'must be a lower-case hex SHA-256'),
    }),
  })
  .superRefine((report, context) => {
    if (inventoryDigest(report.inventory.titles) !== report.inventory.digest) {
      context.addIssue({
        code: 'custom',
        path: ['inventory', 'digest'],
        message: 'does not match inventory.titles (SHA-256 of the sorted, unique ids joined by newlines)',
      });
    }
  });
export type HealthReport = z.infer<typeof reportSchema>;

/** The digest an appliance sends with its inventory: both sides compute it the same way. */
export function inventoryDigest(titles: readonly string[]): string {
  return createHash('sha256').update([...new Set(titles)].sort().join('\n')).digest('hex');
}
