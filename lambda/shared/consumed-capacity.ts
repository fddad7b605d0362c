import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';

/** Capacity units a client consumed, by command, since it was instrumented. */
export interface CapacityTally {
  readonly readUnits: number;
  readonly writeUnits: number;
  readonly byCommand: Readonly<Record<string, { readonly calls: number; readonly units: number }>>;
}

const READS = new Set(['GetItemCommand', 'QueryCommand', 'ScanCommand', 'BatchGetItemCommand', 'TransactGetItemsCommand']);

/**
 * Asks DynamoDB for the capacity every call of `client` consumes and adds it up: what the fleet
 * benchmark and the registry's tests measure. Read units are 4 KB strongly
 * consistent (half that eventually consistent); write units are 1 KB of the larger of the item
 * before and after.
 */
export function recordConsumedCapacity(client: DynamoDBDocumentClient): () => CapacityTally {
  let readUnits = 0;
  let writeUnits = 0;
  const byCommand: Record<string, { calls: number; units: number }> = {};
  client.middlewareStack.add(
    (next, context) => async (args) => {
      (args.input as { ReturnConsumedCapacity?: string }).ReturnConsumedCapacity ??= 'TOTAL';
      const result = await next(args);
      const consumed = (result.output as { ConsumedCapacity?: { CapacityUnits?: number } | { CapacityUnits?: number }[] }).ConsumedCapacity;
      const units = (Array.isArray(consumed) ? consumed : consumed ? [consumed] : []).reduce((sum, entry) => sum + (entry.CapacityUnits ?? 0), 0);
      const command = context.commandName ?? 'unknown';
      if (READS.has(command)) {
        readUnits += units;
      } else {
        writeUnits += units;
      }
      const entry = (byCommand[command] ??= { calls: 0, units: 0 });
      entry.calls++;
      entry.units += units;
      return result;
    },
    { step: 'initialize', name: 'recordConsumedCapacity' },
  );
  return () => ({ readUnits, writeUnits, byCommand: structuredClone(byCommand) });
}
