import { z } from 'zod';
import { titleIdSchema } from '../fleet/fleet-protocol';
import { REQUEST_LIMITS } from '../shared/control-table';
import { decodeCursor, encodeCursor } from '../shared/cursor';
import { sharedDocumentClient } from '../shared/dynamodb';
import { requireEnv } from '../shared/env';
import { HttpError, json, parseParameters, routedHandler, viewerAccountId } from '../shared/http';
import { lambdaEntry } from '../shared/lambda-entry';
import { wholeNumber } from '../shared/request-fields';
import { isPlayable, publicView } from './catalog';
import { CATALOG_CURSOR, CatalogStore } from './catalog-store';

export const MAX_PAGE_TITLES = 100;

/** Query parameters arrive as text: `limit` must be plain digits, so `1e2`, `0x10` or `1,2` (a repeated key) are refused. */
export const listTitlesQuery = z.strictObject({
  limit: z
    .string()
    .regex(/^[0-9]{1,3}$/, `must be a whole number from 1 to ${MAX_PAGE_TITLES}`)
    .default('25')
    .transform(Number)
    .pipe(wholeNumber(1, MAX_PAGE_TITLES)),
  cursor: z.string().max(REQUEST_LIMITS.cursorChars).optional(),
});

export const titlePath = z.strictObject({ titleId: titleIdSchema });

export interface CatalogDependencies {
  readonly catalog: CatalogStore;
  readonly nowMs: () => number;
}

/** `GET /titles` and `GET /titles/{titleId}`: what viewers can play now. */
export function createCatalogHandler(deps: CatalogDependencies) {
  return routedHandler({
    'GET /titles': async (event) => {
      viewerAccountId(event);
      const query = parseParameters(event.queryStringParameters, listTitlesQuery, 'query');
      const page = await deps.catalog.list(query.limit, decodeCursor(query.cursor, CATALOG_CURSOR));
      const now = deps.nowMs();
      return json(200, {
        titles: page.titles.filter((title) => isPlayable(title, now)).map(publicView),
        nextCursor: encodeCursor(page.lastKey, CATALOG_CURSOR),
      });
    },
    'GET /titles/{titleId}': async (event) => {
      viewerAccountId(event);
      const { titleId } = parseParameters(event.pathParameters, titlePath, 'path');
      const title = await deps.catalog.get(titleId);
      if (!title || !isPlayable(title, deps.nowMs())) {
        throw new HttpError(404, 'unknown-title', `no playable title '${titleId}'`);
      }
      return json(200, publicView(title));
    },
  });
}

export const handler = lambdaEntry(() =>
  createCatalogHandler({
    catalog: new CatalogStore(sharedDocumentClient(), requireEnv('CONTROL_TABLE_NAME')),
    nowMs: Date.now,
  }),
);
