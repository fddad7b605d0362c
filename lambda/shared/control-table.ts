/**
 * The control table's layout. Every item type shares one generic key pair (`pk`/`sk`), one
 * general-purpose index (`gsi1`) and one TTL attribute; the data stack, the local platform and the
 * tests all build the table from these names, and `itemKeys` is the only place keys are spelled.
 */
export const CONTROL_TABLE_SCHEMA = {
  partitionKey: 'pk',
  sortKey: 'sk',
  timeToLiveAttribute: 'expiresAt',
  index: { name: 'gsi1', partitionKey: 'gsi1pk', sortKey: 'gsi1sk' },
} as const;

export interface ItemKey {
  readonly pk: string;
  readonly sk: string;
}

export const itemKeys = {
  heartbeat: (region: string): ItemKey => ({ pk: `heartbeat#${region}`, sk: 'heartbeat' }),
  title: (titleId: string): ItemKey => ({ pk: `title#${titleId}`, sk: 'title' }),
  plan: (accountId: string): ItemKey => ({ pk: `account#${accountId}`, sk: 'plan' }),
  streamSlot: (accountId: string, slot: number): ItemKey => ({ pk: `account#${accountId}`, sk: `slot#${slot}` }),
  watchPosition: (accountId: string, titleId: string): ItemKey => ({ pk: `account#${accountId}`, sk: `watch#${titleId}` }),
  session: (sessionId: string): ItemKey => ({ pk: `session#${sessionId}`, sk: 'session' }),
  appliance: (applianceId: string): ItemKey => ({ pk: `appliance#${applianceId}`, sk: 'appliance' }),
  clusterManifest: (clusterId: string): ItemKey => ({ pk: `cluster#${clusterId}`, sk: 'manifest' }),
  regionDemand: (day: string, region: string, titleId: string): ItemKey => ({
    pk: `demand#${day}#region#${region}`,
    sk: `title#${titleId}`,
  }),
  clusterDemand: (day: string, clusterId: string, titleId: string): ItemKey => ({
    pk: `demand#${day}#cluster#${clusterId}`,
    sk: `title#${titleId}`,
  }),
} as const;

/** `gsi1` partitions: every catalog title, and every registered appliance. */
export const INDEX_PARTITIONS = { catalog: 'catalog', fleet: 'fleet' } as const;
