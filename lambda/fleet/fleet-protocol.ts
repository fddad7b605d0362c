import { createHash } from 'node:crypto';
import { z } from 'zod';
import { parsePrefix } from '../playback/ip-prefix';

/** Appliance, cluster and title ids: they go into tokens and URLs, so no dots or slashes. */
export const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;
const id = (what: string) => z.string().regex(ID_PATTERN, `must be a ${what} id: 1-64 letters, digits, '-' or '_'`);

/** An appliance reports at most this many titles: its inventory must fit one DynamoDB item. */
export const MAX_INVENTORY_TITLES = 8000;
export const MAX_PREFIXES = 256;

export const applianceIdSchema = id('appliance');
export const titleIdSchema = id('title');

export const registrationSchema = z.strictObject({
  applianceId: applianceIdSchema,
  clusterId: id('cluster'),
  region: z.string().regex(/^[a-z]{2}(?:-gov)?-[a-z]+-\d$/, 'must be an AWS region name like us-east-1'),
  baseUrl: z
    .url({ protocol: /^https?$/, error: 'must be an http(s) URL with no path, like https://oca-1.isp.example' })
    .refine((text) => {
      const url = new URL(text);
      return (url.pathname === '/' || url.pathname === '') && !url.search && !url.hash;
    }, 'must be an http(s) URL with no path, like https://oca-1.isp.example')
    .transform((text) => text.replace(/\/$/, '')),
  capacity: z.strictObject({
    egressGbps: z.number().positive().max(1000),
    diskBytes: z.number().int().positive(),
  }),
  prefixes: z
    .array(
      z.string().superRefine((text, context) => {
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

const share = z.number().min(0).max(1);

export const reportSchema = z
  .strictObject({
    applianceId: applianceIdSchema,
    health: z.strictObject({
      load: share,
      egressGbps: z.number().min(0),
      diskUsedBytes: z.number().int().min(0),
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
