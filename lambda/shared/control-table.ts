/**
 * The control table's key schema: one generic `pk`/`sk` pair for every item type (heartbeats now;
 * catalog, sessions, fleet and demand later), and one TTL attribute. The data stack, the local
 * platform and the tests all build the table from these names.
 */
export const CONTROL_TABLE_SCHEMA = {
  partitionKey: 'pk',
  sortKey: 'sk',
  timeToLiveAttribute: 'expiresAt',
} as const;
