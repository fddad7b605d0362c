import { SNSClient } from '@aws-sdk/client-sns';
import { CatalogStore } from '../catalog/catalog-store';
import { sharedDocumentClient } from '../shared/dynamodb';
import { requireEnv } from '../shared/env';
import { lambdaEntry } from '../shared/lambda-entry';
import { failTitle } from './failure-notice';
import { IngestResult, UploadEvent } from './ingest';
import { titleIdFor } from './title-id';

/** What the workflow hands the reject step: ingest's refusal, or the upload event with the error that stopped it. */
export type RejectInput =
  | Extract<IngestResult, { outcome: 'rejected' }>
  | (UploadEvent & { readonly error: { readonly Error?: string; readonly Cause?: string } });

export interface RejectDependencies {
  readonly catalog: CatalogStore;
  readonly sns: SNSClient;
  readonly topicArn: string;
}

/** The workflow's last step for an upload it could not encode: the title fails, operators hear of it. */
export function createRejectHandler(deps: RejectDependencies) {
  return async (input: RejectInput): Promise<{ titleId: string; reason: string }> => {
    let titleId: string;
    let reason: string;
    let source: string;
    if ('outcome' in input) {
      ({ titleId, reason, source } = input);
    } else {
      const { bucket, object } = input.detail;
      titleId = titleIdFor(bucket.name, object.key, object['version-id']);
      const decodedId = titleIdFor(bucket.name, decodeURIComponent(object.key.replace(/\+/g, ' ')), object['version-id']);
      if (decodedId !== titleId && (await deps.catalog.get(decodedId))) {
        titleId = decodedId;
      }
      reason = `encoding workflow failed: ${input.error.Error ?? 'error'}: ${input.error.Cause ?? 'no cause given'}`;
      source = `s3://${bucket.name}/${object.key}`;
    }
    await failTitle(deps.catalog, deps.sns, deps.topicArn, { titleId, reason, source });
    return { titleId, reason };
  };
}

export const handler = lambdaEntry(() =>
  createRejectHandler({
    catalog: new CatalogStore(sharedDocumentClient(), requireEnv('CONTROL_TABLE_NAME')),
    sns: new SNSClient({}),
    topicArn: requireEnv('FAILURE_TOPIC_ARN'),
  }),
);
