import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { CatalogStore } from '../catalog/catalog-store';
import { withFailure } from './catalog-entry';
import { JobKind } from './ladder';

export interface FailureNotice {
  readonly titleId: string;
  readonly reason: string;
  readonly source?: string;
  readonly job?: { readonly kind: JobKind; readonly jobId: string };
}

/**
 * Ends a title as failed, with its reason, and tells the operators' topic. Marking an already
 * failed title again changes nothing but its reason.
 */
export async function failTitle(catalog: CatalogStore, sns: SNSClient, topicArn: string, notice: FailureNotice): Promise<void> {
  await catalog.modify(notice.titleId, (title) => withFailure(title, notice.reason, notice.job?.kind, notice.job?.jobId));
  await sns.send(
    new PublishCommand({
      TopicArn: topicArn,
      Subject: `Nearstream title failed: ${notice.titleId}`.slice(0, 100),
      Message: JSON.stringify({ titleId: notice.titleId, status: 'failed', reason: notice.reason, source: notice.source }),
    }),
  );
}
