import { lambdaEntry } from '../shared/lambda-entry';
import { inventoryBuilderFromEnvironment } from './inventory-builder-from-environment';
import { TitleInventoryBuilder } from './title-inventory-builder';
import { requireTitleId } from './title-id';

/** One item of the inventory state machine's Distributed Map: an object of a title whose jobs all completed. */
export interface HashObjectInput {
  readonly titleId: string;
  readonly key: string;
}

/**
 * Hashes one object, streaming, and records its digest. One object per invocation: however large a
 * title grows, no invocation reads more than one of its objects.
 */
export function createHashObjectHandler(builder: TitleInventoryBuilder) {
  return async (input: HashObjectInput): Promise<{ key: string; size?: number }> => {
    const titleId = requireTitleId(input?.titleId);
    if (typeof input.key !== 'string' || input.key === '') {
      throw new Error(`hash-object needs the key of one of title ${titleId}'s objects (got ${JSON.stringify(input.key)})`);
    }
    const digest = await builder.hashObject(titleId, input.key);
    return { key: input.key, size: digest?.size };
  };
}

export const handler = lambdaEntry(() => createHashObjectHandler(inventoryBuilderFromEnvironment()));
