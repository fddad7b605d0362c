import { FisClient } from '@aws-sdk/client-fis';
import { findExperimentTemplate, TemplateLookupError } from '../../../ops/chaos/templates';
import { FIS, mockFis, REGION, template } from './fakes';

const fis = mockFis();
const query = { experiment: 'chaos-monkey', environment: 'pr-7', region: REGION };

beforeEach(() => {
  fis.reset();
});

describe('findExperimentTemplate', () => {
  it('finds the template by its experiment and environment tags on a later page, reading every page', async () => {
    fis
      .on(FIS.ListExperimentTemplates)
      .resolvesOnce({ experimentTemplates: [template('EXT-other', 'latency-monkey', 'pr-7'), template('EXT-staging', 'chaos-monkey', 'staging')], nextToken: 'page-2' })
      .resolvesOnce({ experimentTemplates: [template('EXT-mine', 'chaos-monkey', 'pr-7')], nextToken: 'page-3' })
      .resolvesOnce({ experimentTemplates: [] });

    await expect(findExperimentTemplate(new FisClient({ region: REGION }), query)).resolves.toBe('EXT-mine');

    expect(fis.commandCalls(FIS.ListExperimentTemplates).map((call) => call.args[0].input.nextToken)).toEqual([undefined, 'page-2', 'page-3']);
  });

  it('says the environment needs chaos leashed or on when the region has no template of the experiment', async () => {
    fis.on(FIS.ListExperimentTemplates).resolves({ experimentTemplates: [template('EXT-other', 'latency-monkey', 'pr-7')] });

    const lookup = findExperimentTemplate(new FisClient({ region: REGION }), query);

    await expect(lookup).rejects.toThrow(TemplateLookupError);
    await expect(lookup).rejects.toThrow(
      'no FIS experiment template for chaos-monkey in pr-7 (us-east-1): the environment\'s chaos must be leashed or on (deploy it with -c chaos=leashed or -c chaos=on)',
    );
  });

  it('ignores the templates of other environments, naming them', async () => {
    fis.on(FIS.ListExperimentTemplates).resolves({ experimentTemplates: [template('EXT-prod', 'chaos-monkey', 'prod'), template('EXT-staging', 'chaos-monkey', 'staging')] });

    await expect(findExperimentTemplate(new FisClient({ region: REGION }), query)).rejects.toThrow(
      /^no FIS experiment template for chaos-monkey in pr-7 \(us-east-1\): .*; us-east-1 has chaos-monkey templates for prod, staging only$/,
    );
  });

  it('refuses to choose between several templates of the experiment in the environment, listing their ids', async () => {
    fis
      .on(FIS.ListExperimentTemplates)
      .resolvesOnce({ experimentTemplates: [template('EXT-a', 'chaos-monkey', 'pr-7')], nextToken: 'page-2' })
      .resolvesOnce({ experimentTemplates: [template('EXT-b', 'chaos-monkey', 'pr-7', { Name: 'nearstream-pr-7-us-east-1-chaos-monkey' })] });

    await expect(findExperimentTemplate(new FisClient({ region: REGION }), query)).rejects.toThrow(
      "2 FIS experiment templates for chaos-monkey in pr-7 (us-east-1), expected one, the control-plane stack's: " +
        'EXT-a, EXT-b (nearstream-pr-7-us-east-1-chaos-monkey); remove the others, then run again',
    );
  });
});
