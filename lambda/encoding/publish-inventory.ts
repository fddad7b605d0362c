import { lambdaEntry } from '../shared/lambda-entry';
import { inventoryBuilderFromEnvironment } from './inventory-builder-from-environment';
import { TitleInventoryBuilder } from './title-inventory-builder';
import { requireTitleId } from './title-id';

/**
 * The inventory state machine's last step: once every object of the title is hashed, write its
 * `inventory.json` and make the title available.
 */
export function createPublishInventoryHandler(builder: TitleInventoryBuilder) {
  return async (input: { readonly titleId: string }): Promise<{ titleId: string; status: string; objects?: number }> => {
    const title = await builder.publish(requireTitleId(input?.titleId));
    return { titleId: title.titleId, status: title.status, objects: title.encoding?.inventory?.objects };
  };
}

export const handler = lambdaEntry(() => createPublishInventoryHandler(inventoryBuilderFromEnvironment()));
