import { resolveEnvironment } from '../../../lib/config/environment';
import { EnvironmentNaming } from '../../../lib/config/naming';
import { CONTROL_TABLE_SCHEMA } from '../../../lambda/shared/control-table';
import { CHECKED_ENVIRONMENT, PlatformResource, PolicyModel } from './policy-model';

/** One AWS API call as a test made it: through the SDK, or seen on the wire for the appliance agent. */
export interface AwsCall {
  /** The IAM service prefix: `dynamodb`, `s3`, `secretsmanager`, `execute-api`, ... */
  readonly service: string;
  /** The API operation: `GetItem`, `HeadObject`, `Invoke`, ... (DocumentClient's `Get` is `GetItem`). */
  readonly operation: string;
  readonly input: Readonly<Record<string, unknown>>;
  /** The region the call was made to. */
  readonly region: string;
  /** The HTTP status the call failed with, if it failed; mocked calls never say. */
  readonly failedWithStatus?: number;
}

/** What IAM decides for a call: one action on one resource, with the context its conditions may read. */
export interface IamRequest {
  readonly action: string;
  readonly resource: string;
  readonly context: Readonly<Record<string, string | string[]>>;
  /** The resource's own policy (bucket, topic or key policy), evaluated alongside the role's. */
  readonly resourcePolicy?: unknown;
  /** Why the call needs this, when it is not the plain permission of the operation. */
  readonly because?: string;
}

export type MediaBucketPurpose = 'origin' | 'source' | 'steer';

/**
 * The test's local stand-ins for the platform's resources: the tables, buckets, secrets, topics
 * and roles a test creates or names, by what each stands for in the synthesized environment.
 * Names the environment itself uses (`nearstream/dev/origin-signing-key`) need no entry.
 */
export interface LocalNames {
  /** Tables that stand for the control table. */
  readonly controlTables?: readonly string[];
  readonly buckets?: Readonly<Record<string, MediaBucketPurpose>>;
  /**
   * Secret ids (names or ARNs), each standing for a platform secret: by its name, or by its construct
   * path below the environment (`Data/OriginTier/KeyStore`) when it has no fixed name.
   */
  readonly secrets?: Readonly<Record<string, string>>;
  /** ARNs of topics and of roles passed to services, each standing for a platform resource. */
  readonly arns?: Readonly<Record<string, PlatformResource>>;
}

const naming = new EnvironmentNaming(resolveEnvironment(CHECKED_ENVIRONMENT));
const DOCUMENT_CLIENT_OPERATIONS: Readonly<Record<string, string>> = { Get: 'GetItem', Put: 'PutItem', Update: 'UpdateItem', Delete: 'DeleteItem' };

type Mapper = (call: AwsCall, names: LocalNames, model: PolicyModel, caller: CallerTraits) => IamRequest[];

/** How the caller's code reads S3 objects that may be missing. */
export interface CallerTraits {
  /**
   * It takes S3's 403 for a missing object (what a caller without s3:ListBucket gets) as "not
   * there", so it needs no s3:ListBucket to tell.
   */
  readonly treatsForbiddenAsMissing: boolean;
}

/** The IAM requests AWS would authorize for one call, with deployed names in place of the test's. */
export function iamRequestsFor(call: AwsCall, names: LocalNames, model: PolicyModel, caller: CallerTraits): IamRequest[] {
  const mapper = MAPPERS[call.service];
  if (!mapper) {
    throw new Error(`no IAM mapping for ${call.service} ${call.operation}: add one to test/support/iam/call-permissions.ts`);
  }
  return mapper(call, names, model, caller);
}

const MAPPERS: Readonly<Record<string, Mapper>> = {
  dynamodb: (call, names, model) => {
    const operation = DOCUMENT_CLIENT_OPERATIONS[call.operation] ?? call.operation;
    const { input } = call;
    const tableArn = `arn:aws:dynamodb:${call.region}:${model.account}:table/${naming.controlTableName}`;
    const checkTable = (localTable: string) => {
      if (!(names.controlTables ?? []).includes(localTable) && localTable !== naming.controlTableName) {
        throw new Error(`the test's table '${localTable}' stands for nothing the IAM check knows: list it in controlTables`);
      }
    };
    if (operation === 'TransactWrite' || operation === 'TransactWriteItems') {
      // IAM authorizes each item of a transaction as its own write.
      return (input.TransactItems as Record<string, { TableName: string; Item?: Record<string, unknown>; Key?: Record<string, unknown> }>[]).map((entry) => {
        const [kind, write] = Object.entries(entry)[0];
        checkTable(write.TableName);
        const action = { Put: 'PutItem', Update: 'UpdateItem', Delete: 'DeleteItem', ConditionCheck: 'ConditionCheckItem' }[kind];
        if (!action) {
          throw new Error(`no IAM mapping for a ${kind} in a DynamoDB transaction: add it to test/support/iam/call-permissions.ts`);
        }
        const keys = write.Item ?? write.Key!;
        return { action: `dynamodb:${action}`, resource: tableArn, context: { 'dynamodb:LeadingKeys': [attributeValue(keys[CONTROL_TABLE_SCHEMA.partitionKey])] } };
      });
    }
    if (operation === 'BatchGet' || operation === 'BatchGetItem') {
      // IAM authorizes a batch per table, with every key's partition among the leading keys.
      return Object.entries(input.RequestItems as Record<string, { Keys: Record<string, unknown>[] }>).map(([localTable, { Keys }]) => {
        checkTable(localTable);
        return {
          action: 'dynamodb:BatchGetItem',
          resource: tableArn,
          context: { 'dynamodb:LeadingKeys': [...new Set(Keys.map((key) => attributeValue(key[CONTROL_TABLE_SCHEMA.partitionKey])))] },
        };
      });
    }
    checkTable(String(input.TableName));
    const indexName = input.IndexName as string | undefined;
    const resource = indexName ? `${tableArn}/index/${indexName}` : tableArn;
    const leadingKey = (() => {
      switch (operation) {
        case 'GetItem':
        case 'UpdateItem':
        case 'DeleteItem':
          return attributeValue((input.Key as Record<string, unknown>)[CONTROL_TABLE_SCHEMA.partitionKey]);
        case 'PutItem':
          return attributeValue((input.Item as Record<string, unknown>)[CONTROL_TABLE_SCHEMA.partitionKey]);
        case 'Query':
          return queriedPartition(input);
        default:
          throw new Error(`no IAM mapping for DynamoDB ${call.operation}: add it to test/support/iam/call-permissions.ts`);
      }
    })();
    return [{ action: `dynamodb:${operation}`, resource, context: { 'dynamodb:LeadingKeys': [leadingKey] } }];
  },

  s3: (call, names, model, caller) => {
    const { input, region } = call;
    const bucket = mediaBucket(String(input.Bucket), region, names);
    const bucketArn = `arn:aws:s3:::${bucket}`;
    const { keyArn, policy } = model.buckets[bucket] ?? {};
    const s3 = (action: string, resource: string, context: Record<string, string | string[]> = {}, because?: string): IamRequest => ({
      action,
      resource,
      context: { 'aws:SecureTransport': 'true', ...context },
      resourcePolicy: policy,
      because,
    });
    // Bucket keys are on: S3 asks KMS with the bucket's ARN as the encryption context.
    const viaS3 = (action: string) =>
      kmsVia({ service: 's3', keyArn, actions: [action], encryptionContext: { 'aws:s3:arn': bucketArn }, because: `${bucket} is encrypted with a customer managed key` }, call, model);
    const objectArn = `${bucketArn}/${String(input.Key)}`;
    const versioned = input.VersionId !== undefined;
    const missing = call.failedWithStatus === 404;
    const notFound =
      missing && !caller.treatsForbiddenAsMissing
        ? [s3('s3:ListBucket', bucketArn, {}, 'S3 answers 404 for a missing object only to a caller with s3:ListBucket; without it, 403')]
        : [];
    switch (call.operation) {
      case 'HeadObject':
        return [s3(versioned ? 's3:GetObjectVersion' : 's3:GetObject', objectArn), ...notFound];
      case 'GetObject':
        return [s3(versioned ? 's3:GetObjectVersion' : 's3:GetObject', objectArn), ...notFound, ...(missing ? [] : viaS3('kms:Decrypt'))];
      case 'PutObject':
        return [s3('s3:PutObject', objectArn), ...viaS3('kms:GenerateDataKey')];
      case 'ListObjectsV2':
        return [s3('s3:ListBucket', bucketArn, input.Prefix === undefined ? {} : { 's3:prefix': String(input.Prefix) })];
      default:
        throw new Error(`no IAM mapping for S3 ${call.operation}: add it to test/support/iam/call-permissions.ts`);
    }
  },

  secretsmanager: (call, names, model) => {
    const secretId = String(call.input.SecretId);
    // A secret's ARN names it, followed by Secrets Manager's six random characters.
    const named = /^arn:aws:secretsmanager:[^:]+:\d+:secret:(.+)-[A-Za-z0-9]{6}$/.exec(secretId)?.[1] ?? secretId;
    const deployed = model.secretArns[names.secrets?.[secretId] ?? named];
    if (!deployed) {
      throw new Error(`the test's secret '${secretId}' stands for nothing the IAM check knows: map it in secrets to one of ${Object.keys(model.secretArns).join(', ')}`);
    }
    const arn = deployed.replace(/^(arn:aws:secretsmanager:)[^:]+/, `$1${call.region}`);
    const stage = call.input.VersionStage ?? call.input.VersionStages;
    const secret: IamRequest = {
      action: `secretsmanager:${call.operation}`,
      resource: arn,
      context: stage === undefined ? {} : { 'secretsmanager:VersionStage': stage as string | string[] },
    };
    const encryption = {
      service: 'secretsmanager',
      keyArn: model.secrets[arn]?.keyArn,
      actions: [call.operation === 'PutSecretValue' ? 'kms:GenerateDataKey' : 'kms:Decrypt'],
      encryptionContext: { SecretARN: arn },
      because: `${arn.split(':secret:')[1]} is encrypted with a customer managed key`,
    };
    return [secret, ...kmsVia(encryption, call, model)];
  },

  sns: (call, names, model) => {
    const arn = platformArn(String(call.input.TopicArn), names, model);
    const { keyArn, policy } = model.topics[arn] ?? {};
    const encryption = {
      service: 'sns',
      keyArn,
      actions: ['kms:GenerateDataKey', 'kms:Decrypt'],
      encryptionContext: { 'aws:sns:topicArn': arn },
      because: 'the topic is encrypted with a customer managed key',
    };
    return [{ action: `sns:${call.operation}`, resource: arn, context: { 'aws:SecureTransport': 'true' }, resourcePolicy: policy }, ...kmsVia(encryption, call, model)];
  },

  kms: (call, _names, model) => {
    if (!KMS_KEY_OPERATIONS.includes(call.operation)) {
      throw new Error(`no IAM mapping for KMS ${call.operation}: add it to test/support/iam/call-permissions.ts`);
    }
    const keyId = call.input.KeyId;
    if (typeof keyId !== 'string' || keyId === '') {
      // Without KeyId, KMS authorizes Decrypt on the key the blob names, which the check cannot read.
      throw new Error(`KMS ${call.operation} without a KeyId: name the key, so the check (and KMS) knows which key's permissions apply`);
    }
    const { keyArn, requestAlias } = kmsKeyOf(keyId, call.region, model);
    const encryptionContext = (call.input.EncryptionContext ?? {}) as Record<string, string>;
    return [
      {
        action: `kms:${call.operation}`,
        resource: keyArn,
        context: {
          'kms:CallerAccount': model.account,
          // The aliases of the key the call reached, however the call named it: what KMS evaluates.
          'kms:ResourceAliases': [...(model.keyAliases[keyArn] ?? [])],
          ...(requestAlias ? { 'kms:RequestAlias': requestAlias } : {}),
          'kms:EncryptionContextKeys': Object.keys(encryptionContext),
          ...Object.fromEntries(Object.entries(encryptionContext).map(([key, value]) => [`kms:EncryptionContext:${key}`, value])),
        },
        resourcePolicy: model.keyPolicies[keyArn],
      },
    ];
  },

  mediaconvert: (call, names, model) => {
    const { input, region } = call;
    const arnOf = (kind: string, nameOrArn: string): string =>
      nameOrArn.startsWith('arn:') ? nameOrArn : `arn:aws:mediaconvert:${region}:${model.account}:${kind}/${nameOrArn}`;
    switch (call.operation) {
      case 'Probe':
        return [{ action: 'mediaconvert:Probe', resource: '*', context: {} }];
      case 'CreateJob': {
        const createJob = (resource: string): IamRequest => ({ action: 'mediaconvert:CreateJob', resource, context: {} });
        return [
          ...(input.JobTemplate ? [createJob(arnOf('jobTemplates', String(input.JobTemplate)))] : []),
          createJob(arnOf('queues', String(input.Queue ?? 'Default'))),
          {
            action: 'iam:PassRole',
            resource: platformArn(String(input.Role), names, model),
            context: { 'iam:PassedToService': 'mediaconvert.amazonaws.com' },
            because: 'the job runs as the role it names',
          },
        ];
      }
      default:
        throw new Error(`no IAM mapping for MediaConvert ${call.operation}: add it to test/support/iam/call-permissions.ts`);
    }
  },

  'execute-api': (call, _names, model) => {
    const apiId = model.apiIds[call.region];
    if (!apiId) {
      throw new Error(`no control plane API in ${call.region}; the environment has them in ${Object.keys(model.apiIds).join(', ')}`);
    }
    const { method, path } = call.input as { method: string; path: string };
    return [{ action: 'execute-api:Invoke', resource: `arn:aws:execute-api:${call.region}:${model.account}:${apiId}/$default/${method}${path}`, context: {} }];
  },
};

/** The KMS operations on a symmetric key the check maps: a caller's own cryptographic calls. */
const KMS_KEY_OPERATIONS: readonly string[] = ['GenerateDataKey', 'GenerateDataKeyWithoutPlaintext', 'Encrypt', 'Decrypt', 'ReEncrypt'];

/**
 * The key a KMS call's `KeyId` reaches in `region`: a key id or key ARN, or an alias name or alias
 * ARN (then also the alias as KMS puts it in `kms:RequestAlias`), looked up among the keys and
 * aliases the environment deploys there.
 */
function kmsKeyOf(keyId: string, region: string, model: PolicyModel): { keyArn: string; requestAlias?: string } {
  const arn = /^arn:aws:kms:([^:]+):(\d{12}):((?:key|alias)\/.+)$/.exec(keyId);
  if (arn && (arn[1] !== region || arn[2] !== model.account)) {
    throw new Error(`KMS KeyId ${keyId} is not in ${region} of account ${model.account}: KMS answers only keys of the region and account it is called in`);
  }
  const local = arn ? arn[3] : keyId;
  const keysInRegion = Object.keys(model.keyPolicies).filter((candidate) => candidate.startsWith(`arn:aws:kms:${region}:`));
  if (local.startsWith('alias/')) {
    const keyArn = keysInRegion.find((candidate) => (model.keyAliases[candidate] ?? []).includes(local));
    if (!keyArn) {
      throw new Error(`the KMS alias ${local} names no key the environment deploys in ${region}; aliases there: ${keysInRegion.flatMap((key) => model.keyAliases[key] ?? []).join(', ')}`);
    }
    return { keyArn, requestAlias: local };
  }
  const keyArn = `arn:aws:kms:${region}:${model.account}:${local.replace(/^(key\/)?/, 'key/')}`;
  if (!keysInRegion.includes(keyArn)) {
    throw new Error(`the KMS key ${keyId} is no key the environment deploys in ${region}`);
  }
  return { keyArn };
}

/** A customer managed key a service uses on the caller's behalf, and what it asks KMS for. */
interface ServiceEncryption {
  readonly service: string;
  /** Undefined when the resource has no customer managed key: an AWS managed key needs no grant. */
  readonly keyArn?: string;
  readonly actions: readonly string[];
  readonly encryptionContext: Readonly<Record<string, string>>;
  readonly because: string;
}

/** The KMS requests a service makes with the caller's permissions, through that service (`kms:ViaService`). */
function kmsVia(encryption: ServiceEncryption, call: AwsCall, model: PolicyModel): IamRequest[] {
  const { keyArn } = encryption;
  if (!keyArn) {
    return [];
  }
  const context = {
    'kms:ViaService': `${encryption.service}.${call.region}.amazonaws.com`,
    'kms:CallerAccount': model.account,
    'kms:EncryptionContextKeys': Object.keys(encryption.encryptionContext),
    ...Object.fromEntries(Object.entries(encryption.encryptionContext).map(([key, value]) => [`kms:EncryptionContext:${key}`, value])),
  };
  return encryption.actions.map((action) => ({ action, resource: keyArn, context, resourcePolicy: model.keyPolicies[keyArn], because: encryption.because }));
}

function mediaBucket(local: string, region: string, names: LocalNames): string {
  const purpose = names.buckets?.[local];
  if (purpose) {
    return naming.mediaBucketName(CHECKED_ENVIRONMENT.account!, region, purpose);
  }
  throw new Error(`the test's bucket '${local}' stands for nothing the IAM check knows: map it to 'origin', 'source' or 'steer' in buckets`);
}

function platformArn(local: string, names: LocalNames, model: PolicyModel): string {
  const platform = names.arns?.[local];
  if (platform) {
    return model.platformArns[platform];
  }
  if (Object.values(model.platformArns).includes(local)) {
    return local;
  }
  throw new Error(`the test's ARN '${local}' stands for nothing the IAM check knows: map it in arns`);
}

/** A key attribute's value, from a DocumentClient input (plain) or a DynamoDB client input (`{ S: ... }`). */
function attributeValue(value: unknown): string {
  if (typeof value === 'object' && value !== null) {
    return String(Object.values(value)[0]);
  }
  return String(value);
}

/** The partition a Query reads: the value its key condition sets the table's or index's partition key to. */
function queriedPartition(input: Readonly<Record<string, unknown>>): string {
  const { index } = CONTROL_TABLE_SCHEMA;
  const partitionKey = input.IndexName === index.name ? index.partitionKey : CONTROL_TABLE_SCHEMA.partitionKey;
  const attributeNames = (input.ExpressionAttributeNames ?? {}) as Record<string, string>;
  const attributeValues = (input.ExpressionAttributeValues ?? {}) as Record<string, unknown>;
  for (const [, name, placeholder] of String(input.KeyConditionExpression).matchAll(/(#?\w+)\s*=\s*(:\w+)/g)) {
    if ((attributeNames[name] ?? name) === partitionKey) {
      return attributeValue(attributeValues[placeholder]);
    }
  }
  throw new Error(`cannot tell which partition the Query '${String(input.KeyConditionExpression)}' reads: dynamodb:LeadingKeys needs '${partitionKey} = :value'`);
}
