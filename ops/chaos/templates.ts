import { ExperimentTemplateSummary, FisClient, ListExperimentTemplatesCommand } from '@aws-sdk/client-fis';
import { ENVIRONMENT_TAGS } from '../../lib/config/lifetime';
import { EXPERIMENT_TAG } from '../../lib/constructs/chaos-experiments';

/** The experiment has no single template in the environment's region: exit 1 with the message. */
export class TemplateLookupError extends Error {}

export interface TemplateQuery {
  readonly experiment: string;
  readonly environment: string;
  readonly region: string;
}

/**
 * The id of the one FIS experiment template of `experiment` in the environment's region, found by
 * the tags the stack gives it (`nearstream:experiment`, `nearstream:environment`) over every page
 * of ListExperimentTemplates. Throws a `TemplateLookupError` saying what to change when there is
 * none or more than one.
 */
export async function findExperimentTemplate(fis: Pick<FisClient, 'send'>, query: TemplateQuery): Promise<string> {
  const ofExperiment: ExperimentTemplateSummary[] = [];
  let nextToken: string | undefined;
  do {
    const page = await fis.send(new ListExperimentTemplatesCommand({ maxResults: 100, nextToken }));
    ofExperiment.push(...(page.experimentTemplates ?? []).filter((template) => template.tags?.[EXPERIMENT_TAG] === query.experiment));
    nextToken = page.nextToken;
  } while (nextToken);

  const matching = ofExperiment.filter((template) => template.tags?.[ENVIRONMENT_TAGS.environment] === query.environment);
  const where = `${query.experiment} in ${query.environment} (${query.region})`;
  if (matching.length === 1 && matching[0].id) {
    return matching[0].id;
  }
  if (matching.length > 1) {
    const ids = matching.map((template) => (template.tags?.Name ? `${template.id} (${template.tags.Name})` : template.id)).join(', ');
    throw new TemplateLookupError(
      `${matching.length} FIS experiment templates for ${where}, expected one, the control-plane stack's: ${ids}; remove the others, then run again`,
    );
  }
  const elsewhere = [...new Set(ofExperiment.map((template) => template.tags?.[ENVIRONMENT_TAGS.environment] ?? 'untagged'))].sort();
  throw new TemplateLookupError(
    `no FIS experiment template for ${where}: the environment's chaos must be leashed or on (deploy it with -c chaos=leashed or -c chaos=on)` +
      (elsewhere.length > 0 ? `; ${query.region} has ${query.experiment} templates for ${elsewhere.join(', ')} only` : ''),
  );
}
