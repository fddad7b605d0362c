import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const ROOT = path.join(__dirname, '..');
const CDK = path.join(ROOT, 'node_modules', '.bin', 'cdk');

/** Runs the real CDK CLI over bin/nearstream.ts, as a user would, with no AWS credentials. */
function cdkSynth(...context: string[]) {
  return cdkSynthStacks([], ...context);
}

/**
 * Longest one synth may take: the pipeline's, which builds both stages' stacks (about 45 s alone),
 * takes several minutes when the suite's other workers load the machine.
 */
const SYNTH_TIMEOUT_MS = 300_000;

/**
 * `cdk synth --exclusively <stacks> -c …`: the whole app is synthesized, and only the stacks named
 * (by construct path) are bundled; the CLI bundles every stack unless `--exclusively` is given.
 */
function cdkSynthStacks(stacks: string[], ...context: string[]) {
  const output = fs.mkdtempSync(path.join(os.tmpdir(), 'nearstream-cli-'));
  const args = ['synth', '--quiet', '--output', output, ...context.flatMap((entry) => ['-c', entry]), ...(stacks.length > 0 ? ['--exclusively', ...stacks] : [])];
  const env: NodeJS.ProcessEnv = { ...process.env, CDK_DISABLE_VERSION_CHECK: 'true', AWS_EC2_METADATA_DISABLED: 'true' };
  delete env.AWS_PROFILE;
  const result = spawnSync(CDK, args, { cwd: ROOT, env, encoding: 'utf8', timeout: SYNTH_TIMEOUT_MS });
  return { ...result, output };
}

interface ManifestArtifact {
  type: string;
  environment?: string;
  properties?: { stackName?: string };
}

function stacksIn(output: string): { stackName: string; environment: string }[] {
  const manifest = JSON.parse(fs.readFileSync(path.join(output, 'manifest.json'), 'utf8'));
  return Object.values(manifest.artifacts as Record<string, ManifestArtifact>)
    .filter((artifact) => artifact.type === 'aws:cloudformation:stack')
    .map((artifact) => ({ stackName: artifact.properties!.stackName!, environment: artifact.environment! }));
}

describe('cdk synth through bin/nearstream.ts', () => {
  it('synthesizes dev by default: six top-level stacks over both regions (no pipeline stack without pipeline settings), with every handler bundled', () => {
    const result = cdkSynth();

    expect(result.stderr).not.toMatch(/ERROR/);
    expect(result.status).toBe(0);
    expect(stacksIn(result.output).sort((a, b) => a.stackName.localeCompare(b.stackName))).toEqual([
      { stackName: 'nearstream-dev-appliance-image', environment: 'aws://unknown-account/us-east-1' },
      { stackName: 'nearstream-dev-control-plane-us-east-1', environment: 'aws://unknown-account/us-east-1' },
      { stackName: 'nearstream-dev-control-plane-us-west-2', environment: 'aws://unknown-account/us-west-2' },
      { stackName: 'nearstream-dev-data', environment: 'aws://unknown-account/us-east-1' },
      { stackName: 'nearstream-dev-encoding', environment: 'aws://unknown-account/us-east-1' },
      { stackName: 'nearstream-dev-origin-replica-us-west-2', environment: 'aws://unknown-account/us-west-2' },
    ]);
    const bundles = fs
      .readdirSync(result.output)
      .filter((entry) => entry.startsWith('asset.') && fs.existsSync(path.join(result.output, entry, 'index.js')));
    const code = bundles.map((bundle) => ({ bundle, source: fs.readFileSync(path.join(result.output, bundle, 'index.js'), 'utf8') }));
    for (const marker of ['heartbeat#', '/titles/{titleId}', 'stream-limit', 'StreamStarts', 'top-in-region', '/fleet/register', 'Custom::CloudFrontSigningKey', 'nearstreamTitleId', 'encoding workflow failed']) {
      const holder = code.find(({ source }) => source.includes(marker));
      expect({ marker, bundled: holder !== undefined }).toEqual({ marker, bundled: true });
      expect({ marker, sourceMap: fs.existsSync(path.join(result.output, holder!.bundle, 'index.js.map')) }).toEqual({ marker, sourceMap: true });
    }
  });

  it('synthesizes an ephemeral environment with a domain, a fleet and Roles Anywhere into stacks named after it', () => {
    const caFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'nearstream-ca-')), 'ca.pem');
    fs.writeFileSync(caFile, '-----BEGIN CERTIFICATE-----\nMIIBtest\n-----END CERTIFICATE-----\n');
    // Bundling is the first test's; here only the west appliances stack is bundled.
    const result = cdkSynthStacks(
      ['Nearstream-pr-42/Appliances-us-west-2'],
      'env=pr-42',
      'creator=alice',
      'expiresAt=2026-12-02T12:00:00Z',
      'domain=example.com',
      'hostedZoneId=Z0123456789ABC',
      'account=123456789012',
      'applianceAmi=us-east-1=ami-0123456789abcdef0,us-west-2=ami-0fedcba9876543210',
      'appliancesPerRegion=3',
      `rolesAnywhereCaFile=${caFile}`,
    );

    expect(result.status).toBe(0);
    expect(stacksIn(result.output).map((stack) => stack.stackName).sort()).toEqual([
      'nearstream-pr-42-appliance-image',
      'nearstream-pr-42-appliances-us-east-1',
      'nearstream-pr-42-appliances-us-west-2',
      'nearstream-pr-42-control-plane-us-east-1',
      'nearstream-pr-42-control-plane-us-west-2',
      'nearstream-pr-42-data',
      'nearstream-pr-42-encoding',
      'nearstream-pr-42-origin-replica-us-west-2',
    ]);
    expect(stacksIn(result.output).map((stack) => stack.environment)).toContain('aws://123456789012/us-west-2');
    const manifest = JSON.parse(fs.readFileSync(path.join(result.output, 'manifest.json'), 'utf8'));
    const westArtifact = Object.values(manifest.artifacts as Record<string, { properties?: { stackName?: string; templateFile?: string } }>).find(
      (artifact) => artifact.properties?.stackName === 'nearstream-pr-42-appliances-us-west-2',
    )!;
    const west = JSON.parse(fs.readFileSync(path.join(result.output, westArtifact.properties!.templateFile!), 'utf8'));
    const groups = Object.values(west.Resources as Record<string, { Type: string; Properties: { MinSize?: string } }>).filter(
      (resource) => resource.Type === 'AWS::AutoScaling::AutoScalingGroup',
    );
    expect(groups.map((group) => group.Properties.MinSize)).toEqual(['3']);
    expect(JSON.stringify(west.Resources)).toContain('MIIBtest');
  });

  it('adds the pipeline stack, with staging and prod in both regions, when a connection and a repository are given', () => {
    const result = cdkSynthStacks(
      ['NearstreamPipeline'],
      'account=123456789012',
      'pipelineConnectionArn=arn:aws:codeconnections:us-east-1:123456789012:connection/12345678-1234-1234-1234-123456789012',
      'pipelineRepository=example-org/nearstream',
      'environments={"prod": {"viewerEmailFrom": "no-reply@example.com"}}',
    );

    expect(result.stderr).not.toMatch(/ERROR/);
    expect(result.status).toBe(0);
    expect(stacksIn(result.output)).toContainEqual({ stackName: 'nearstream-pipeline', environment: 'aws://123456789012/us-east-1' });
    for (const [stage, env] of [['Staging', 'staging'], ['Prod', 'prod']]) {
      const staged = stacksIn(path.join(result.output, `assembly-NearstreamPipeline-${stage}`)).map((stack) => `${stack.stackName} ${stack.environment}`);
      expect(staged).toEqual(
        expect.arrayContaining([
          `nearstream-${env}-data aws://123456789012/us-east-1`,
          `nearstream-${env}-control-plane-us-east-1 aws://123456789012/us-east-1`,
          `nearstream-${env}-control-plane-us-west-2 aws://123456789012/us-west-2`,
          `nearstream-${env}-origin-replica-us-west-2 aws://123456789012/us-west-2`,
        ]),
      );
    }
    const pipeline = JSON.parse(fs.readFileSync(path.join(result.output, 'NearstreamPipeline.template.json'), 'utf8'));
    const synthProject = Object.values(pipeline.Resources as Record<string, { Type: string; Properties: { Source?: { BuildSpec?: string } } }>).find(
      (resource) => resource.Type === 'AWS::CodeBuild::Project' && resource.Properties.Source?.BuildSpec?.includes('npx cdk synth'),
    );
    expect(synthProject?.Properties.Source?.BuildSpec).toContain('pipelineRepository=example-org/nearstream');
  }, SYNTH_TIMEOUT_MS + 10_000);

  it.each([
    [['env=Bad_Name'], "env: 'Bad_Name' must be 1-16 lower-case letters"],
    [['account=12345'], "account: '12345' must be exactly 12 digits"],
    [['primaryRegion=us-west-2'], "secondaryRegion: must differ from primaryRegion (both are 'us-west-2')"],
    [['domain=example.com'], 'hostedZoneId: is required when domain is set'],
    [['applianceAmi=us-east-1=ami-0123456789abcdef0'], 'applianceAmi: has no AMI for us-west-2'],
    [['env=pr-42'], 'expiresAt: an ephemeral environment (\'pr-42\') needs an expiry and a creator: create it with `npm run env -- create pr-42`'],
    [['env=prod', 'creator=alice', 'expiresAt=2026-12-02T12:00:00Z', 'viewerEmailFrom=no-reply@example.com'], 'expiresAt: applies only to ephemeral environments'],
    [['pipelineRepository=example-org/nearstream'], 'pipelineConnectionArn: is required for a pipeline'],
    [['environments={"dev": 3}'], 'environments.dev: must be an object'],
    [['environments=not json'], 'environments: must be a JSON object'],
  ])('fails on bad config %p with one message naming the field', (context, message) => {
    const result = cdkSynth(...context);

    expect(result.status).not.toBe(0);
    expect(result.stderr).toContain('Invalid Nearstream config');
    expect(result.stderr).toContain(message);
    expect(result.stderr).not.toMatch(/\n\s+at .*\.ts:\d+/);
  });
});
