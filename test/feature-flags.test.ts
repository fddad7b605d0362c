import * as fs from 'node:fs';
import * as path from 'node:path';

/** Where cdk.json deliberately differs from what aws-cdk-lib recommends, and why. */
const DEVIATIONS: Readonly<Record<string, string>> = {
  '@aws-cdk/core:defaultCrossStackReferences':
    '"both" for one release, as the flag documents for moving from strong to weak: environments deployed with strong references keep their exports (CloudFormation refuses to delete an export that is still imported) while consumers switch to Fn::GetStackOutput; set "weak" in the release after.',
};

describe('CDK feature flags', () => {
  const context = JSON.parse(fs.readFileSync(path.join(__dirname, '..', 'cdk.json'), 'utf8')).context as Record<string, unknown>;
  const recommended = JSON.parse(
    fs.readFileSync(path.join(path.dirname(require.resolve('aws-cdk-lib/package.json')), 'recommended-feature-flags.json'), 'utf8'),
  ) as Record<string, unknown>;

  it('sets every flag the installed aws-cdk-lib recommends, as it recommends, unless a reason is written here', () => {
    const off = Object.entries(recommended)
      .filter(([flag, value]) => !((DEVIATIONS[flag] ?? '').length >= 40) && JSON.stringify(context[flag]) !== JSON.stringify(value))
      .map(([flag, value]) => `${flag}: cdk.json has ${JSON.stringify(context[flag])}, aws-cdk-lib recommends ${JSON.stringify(value)}`);
    expect(off).toEqual([]);
  });
});
