import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { z } from 'zod';
import { titleIdSchema } from '../fleet/fleet-protocol';
import { decodeCursor, encodeCursor } from '../shared/cursor';
import { sharedDocumentClient } from '../shared/dynamodb';
import { requireEnv } from '../shared/env';
import { HttpError, json, parseParameters, routedHandler, viewerAccountId } from '../shared/http';
import { isPlayable, publicView } from './catalog';
import { CatalogStore } from './catalog-store';

const listQuery = z.strictObject({
  limit: z.coerce.number().int().min(1).max(100).default(25),
  cursor: z.string().max(2048).optional(),
});

export interface CatalogDependencies {
  readonly catalog: CatalogStore;
  readonly nowMs: () => number;
}

/** `GET /titles` and `GET /titles/{titleId}`: what viewers can play now. */
export function createCatalogHandler(deps: CatalogDependencies) {
  return routedHandler({
    'GET /titles': async (event) => {
      viewerAccountId(event);
      const query = parseParameters(event.queryStringParameters, listQuery, 'query');
      const page = await deps.catalog.list(query.limit, decodeCursor(query.cursor));
      const now = deps.nowMs();
      return json(200, {
        titles: page.titles.filter((title) => isPlayable(title, now)).map(publicView),
        nextCursor: encodeCursor(page.lastKey),
      });
    },
    'GET /titles/{titleId}': async (event) => {
      viewerAccountId(event);
      const { titleId } = parseParameters(event.pathParameters, z.object({ titleId: titleIdSchema }), 'path');
      const title = await deps.catalog.get(titleId);
      if (!title || !isPlayable(title, deps.nowMs())) {
        throw new HttpError(404, 'unknown-title', `no playable title '${titleId}'`);
      }
      return json(200, publicView(title));
    },
  });
}

let fromEnvironment: ReturnType<typeof createCatalogHandler> | undefined;

export const handler = (event: APIGatewayProxyEventV2) => {
  fromEnvironment ??= createCatalogHandler({
    catalog: new CatalogStore(sharedDocumentClient(), requireEnv('CONTROL_TABLE_NAME')),
    nowMs: Date.now,
  });
  return fromEnvironment(event);
};
