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
  /** What an appliance registered with (cluster, address, prefixes, capacity, owner): written when it registers. */
  applianceRegistration: (applianceId: string): ItemKey => ({ pk: `appliance#${applianceId}`, sk: 'registration' }),
  /**
   * An appliance's latest health report, under 1 KB, in one of `FLEET_SHARDS` partitions: the
   * 30 s reports of the whole fleet spread over the shards, and the snapshot builder reads the
   * fleet's health shard by shard.
   */
  applianceHealth: (applianceId: string): ItemKey => ({ pk: fleetShardKey(fleetShardOf(applianceId)), sk: `appliance#${applianceId}` }),
  /** How many appliance ids one IAM principal (by a hash of its ARN) has registered. */
  principalAppliances: (principalHash: string): ItemKey => ({ pk: `principal#${principalHash}`, sk: 'appliances' }),
  /** What the appliance holds, relative to a placement: written only when it changes. */
  applianceHoldings: (applianceId: string): ItemKey => ({ pk: `appliance#${applianceId}`, sk: 'holdings' }),
  /**
   * One chunk of the titles planning placed on an appliance in one manifest generation, in
   * placement order: a partition of its own, so planning writes no appliance's registration.
   */
  appliancePlacement: (applianceId: string, generation: number, chunk: number): ItemKey => ({
    pk: `placement#${applianceId}`,
    sk: `${placementPrefix(generation)}${String(chunk).padStart(4, '0')}`,
  }),
  clusterManifest: (clusterId: string): ItemKey => ({ pk: `cluster#${clusterId}`, sk: 'manifest' }),
  /** The SHA-256 of one encoded object (sort key: the object's key), which the title's inventory is assembled from; expires. */
  objectDigest: (titleId: string, key: string): ItemKey => ({ pk: `digest#${titleId}`, sk: key }),
  regionDemand: (day: string, region: string, titleId: string): ItemKey => ({
    pk: `demand#${day}#region#${region}`,
    sk: `title#${titleId}`,
  }),
  clusterDemand: (day: string, clusterId: string, titleId: string): ItemKey => ({
    pk: `demand#${day}#cluster#${clusterId}`,
    sk: `title#${titleId}`,
  }),
} as const;

/** `gsi1` partitions: every catalog title. */
export const INDEX_PARTITIONS = { catalog: 'catalog' } as const;

/**
 * Health reports spread over this many partitions. At 20,000 appliances reporting every 30 s a
 * shard takes about 21 writes a second, far below a partition's 1,000.
 */
export const FLEET_SHARDS = 32;

/** The shard an appliance's health lives in: FNV-1a of its id, so every reader finds it the same way. */
export function fleetShardOf(applianceId: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < applianceId.length; i++) {
    hash ^= applianceId.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return (hash >>> 0) % FLEET_SHARDS;
}

/** What every health shard's partition key starts with. */
export const FLEET_SHARD_PREFIX = 'fleet#';

export function fleetShardKey(shard: number): string {
  return `${FLEET_SHARD_PREFIX}${String(shard).padStart(2, '0')}`;
}

/** The sort-key prefix of one generation's placement chunks. */
export function placementPrefix(generation: number): string {
  return `placement#${String(generation).padStart(16, '0')}#`;
}

/**
 * What DynamoDB refuses beyond: a request that could build a bigger key, a bigger item or a number
 * outside this range would fail at the table as a 500, so every request limit below is derived
 * from these and enforced before anything is written.
 */
export const DYNAMODB_LIMITS = {
  itemBytes: 400 * 1024,
  partitionKeyBytes: 2048,
  sortKeyBytes: 1024,
  /** Non-zero numbers must be at least this in magnitude (and below 1e126, with at most 38 significant digits). */
  smallestNumberMagnitude: 1e-130,
} as const;

/** Ids go into keys, tokens and URLs: short, and nothing that needs escaping. */
const ID_CHARS = 64;
/** DNS caps a host name at 253 characters, so `https://<host>:<port>` never needs more. */
const MAX_BASE_URL_CHARS = 'https://'.length + 253 + ':65535'.length;
/** `INET6_ADDRSTRLEN` less its NUL (`ffff:…:255.255.255.255`), plus `/128`. */
const MAX_PREFIX_CHARS = 45 + '/128'.length;
/** IAM caps an ARN at 2048 characters; the fleet stores the caller's ARN with each appliance. */
const MAX_PRINCIPAL_ARN_CHARS = 2048;
const MAX_REGISTRATION_BODY_BYTES = 16 * 1024;
/**
 * The most titles planning places on one appliance: its holdings travel as one bit per placed
 * title (4 KB at most), and its placement is stored in chunks of `placementChunkBytes`.
 */
const MAX_PLACEMENT_TITLES = 32_768;

/**
 * The longest value each request field may carry, derived from `DYNAMODB_LIMITS` where the value
 * ends up in a key or an item, so that no request the schemas accept can be one the table refuses.
 * `test/lambda/shared/control-table.test.ts` builds the worst cases and checks they fit.
 */
export const REQUEST_LIMITS = {
  /** Appliance, cluster, title and session ids: 1-64 of `[A-Za-z0-9_-]`, in keys of every kind. */
  idChars: ID_CHARS,
  /**
   * A viewer's `sub` claim, the account key (`account#<sub>`): OIDC caps a subject at 255 ASCII
   * characters, well inside what the partition key leaves after its prefix.
   */
  subjectChars: Math.min(255, DYNAMODB_LIMITS.partitionKeyBytes - 'account#'.length),
  /** A pagination cursor: the base64url of one sort-key value. */
  cursorChars: Math.ceil((DYNAMODB_LIMITS.sortKeyBytes * 4) / 3),
  baseUrlChars: MAX_BASE_URL_CHARS,
  prefixChars: MAX_PREFIX_CHARS,
  principalArnChars: MAX_PRINCIPAL_ARN_CHARS,
  /** Registration is stored whole in the appliance's item; its body bounds what it adds there. */
  registrationBodyBytes: MAX_REGISTRATION_BODY_BYTES,
  placementTitles: MAX_PLACEMENT_TITLES,
  /** One placement chunk's compressed title list: well inside an item, with its keys and attributes. */
  placementChunkBytes: 256 * 1024,
} as const;
