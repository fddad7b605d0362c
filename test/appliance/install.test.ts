import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { buildApplianceBundle } from '../../appliance-image/build';
import { DebianRoot } from '../support/debian-root';
import { freePort } from '../support/ports';
import { mustRun, ProcessResult, runProcess } from '../support/run-process';
import { TEST_KEYRING } from '../support/fixtures';

const SETTINGS = {
  applianceId: 'oca-7',
  clusterId: 'isp-b',
  region: 'us-west-2',
  controlPlaneUrl: 'https://api.nearstream.example',
  baseUrl: 'https://oca-7.isp-b.example',
  prefixes: ['203.0.113.0/24'],
  capacity: { egressGbps: 40, diskBytes: 8_000_000_000_000 },
  originBucket: 'nearstream-prod-origin-123456789012-us-west-2',
  keyringSecretId: 'nearstream-prod/url-signing',
  diskCeilingBytes: 7_000_000_000_000,
  bandwidthCapBytesPerSecond: 1_000_000_000,
  fillWindow: { startHourUtc: 2, endHourUtc: 6 },
};

/**
 * The install, for real, in a Debian 12 root file system made by debootstrap: packages from Debian's
 * mirror, the Node.js runtime from a release tarball, the agent, nginx with the njs module, units.
 */
describe('the appliance install on Debian 12', () => {
  let root: DebianRoot;
  let first: ProcessResult;
  const nodeTarball = `node-v${process.versions.node}-linux-x64.tar.gz`;
  let nodeSha256 = '';
  let port = 0;

  const install = (...args: string[]) =>
    root.exec(['/tmp/nearstream-appliance/install.sh', ...args, '--node-tarball', `/tmp/${nodeTarball}`, '--node-sha256', nodeSha256]);

  beforeAll(async () => {
    root = await DebianRoot.make();
    buildApplianceBundle(root.path('tmp', 'nearstream-appliance'));
    // A release tarball laid out as nodejs.org's, made from this machine's Node.js.
    const release = root.path('tmp', 'node-release', `node-v${process.versions.node}-linux-x64`);
    fs.mkdirSync(path.join(release, 'bin'), { recursive: true });
    fs.copyFileSync(process.execPath, path.join(release, 'bin', 'node'));
    await mustRun('tar', ['-czf', root.path('tmp', nodeTarball), '-C', path.dirname(release), path.basename(release)]);
    nodeSha256 = createHash('sha256').update(fs.readFileSync(root.path('tmp', nodeTarball))).digest('hex');
    port = await freePort();
    fs.writeFileSync(root.path('tmp', 'node.json'), JSON.stringify({ ...SETTINGS, listen: `127.0.0.1:${port}` }));
    first = await install('--settings', '/tmp/node.json');
  }, 600_000);

  afterAll(async () => {
    await root?.remove();
  });

  it('starts from a root as debootstrap makes it on a host: / at 0755, traversable by any user', async () => {
    const mode = await root.exec(['stat', '-c', '%a %U:%G', '/']);
    expect(mode.output.trim()).toBe('755 root:root');
    const asNobody = await root.exec(['/bin/true'], 'nobody:nogroup');
    expect(asNobody.status).toBe(0);
  });

  it('installs, configures and enables everything from a fresh system', () => {
    expect(first.output).toContain('installed nginx libnginx-mod-http-js');
    expect(first.output).toContain(`installed Node.js node-v${process.versions.node}-linux-x64`);
    expect(first.output).toContain('created user nearstream');
    expect(first.status).toBe(0);
  });

  it('leaves an nginx configuration that nginx accepts, with the Nearstream edge in it', async () => {
    const test = await root.exec(['nginx', '-t']);
    expect(test.output).toContain('test is successful');
    const dump = await root.exec(['nginx', '-T']);
    expect(dump.output).toContain('js_import nearstream from /opt/nearstream/nginx/token.js');
    expect(dump.output).toContain(`listen 127.0.0.1:${port} reuseport`);
    expect(dump.output).toContain('"oca-7"');
    expect(fs.existsSync(root.path('etc', 'nginx', 'sites-enabled', 'default'))).toBe(false);
  });

  it('puts the units and the timer in place and enables them', async () => {
    for (const unit of ['nearstream-agent.service', 'nearstream-fill.timer', 'nearstream-configure.service', 'nginx.service']) {
      const enabled = await runProcess('systemctl', ['--root', root.dir, 'is-enabled', unit]);
      expect(`${unit}: ${enabled.output.trim()}`).toBe(`${unit}: enabled`);
    }
    const timer = fs.readFileSync(root.path('etc', 'systemd', 'system', 'nearstream-fill.timer'), 'utf8');
    expect(timer).toContain('OnCalendar=*-*-* 02:00:00 UTC');
    expect(timer).toContain('RandomizedDelaySec=7200');
    const service = fs.readFileSync(root.path('etc', 'systemd', 'system', 'nearstream-agent.service'), 'utf8');
    expect(service).toContain('ExecStart=/opt/nearstream/node/bin/node /opt/nearstream/agent/nearstream-agent.js serve --config /etc/nearstream/agent.json');
    expect(service).toContain('User=nearstream');
  });

  it('lets the agent, as its own user, read its config and report its status', async () => {
    const status = await root.exec(['/usr/local/bin/nearstream-agent', 'status'], 'nearstream');
    expect(status.status).toBe(0);
    expect(JSON.parse(status.output)).toMatchObject({ applianceId: 'oca-7', clusterId: 'isp-b', objectsHeld: 0, appliedGeneration: null });
    const owners = await root.exec(['stat', '-c', '%n %U:%G %a', '/var/cache/nearstream', '/var/lib/nearstream', '/etc/nearstream/agent.json']);
    expect(owners.output.trim().split('\n')).toEqual([
      '/var/cache/nearstream nearstream:nearstream 755',
      '/var/lib/nearstream nearstream:nearstream 750',
      '/etc/nearstream/agent.json root:nearstream 640',
    ]);
  });

  it('serves a cached object from the installed edge to a URL the agent signs, and refuses it unsigned', async () => {
    fs.writeFileSync(root.path('var', 'lib', 'nearstream', 'keyring', 'keyring.json'), JSON.stringify({ activeKeyId: 'k1', k1: TEST_KEYRING.keys.get('k1')!.toString('utf8') }));
    await root.exec(['sh', '-c', 'chown nearstream:nearstream /var/lib/nearstream/keyring/keyring.json && chmod 640 /var/lib/nearstream/keyring/keyring.json']);
    await root.exec(['install', '-d', '-o', 'nearstream', '-g', 'nearstream', '/var/cache/nearstream/titles/movie/avc1']);
    await root.exec(['sh', '-c', 'printf segment-bytes > /var/cache/nearstream/titles/movie/avc1/seg-0.m4s && chown nearstream:nearstream /var/cache/nearstream/titles/movie/avc1/seg-0.m4s']);
    const signed = (await root.exec(['/usr/local/bin/nearstream-agent', 'sign-url', 'titles/movie/avc1/seg-0.m4s'])).output.trim();
    expect(signed).toMatch(/^https:\/\/oca-7\.isp-b\.example\/t\/v1\.k1\.\d+\.oca-7\.movie\.\d+\.[A-Za-z0-9_-]{43}\/titles\/movie\/avc1\/seg-0\.m4s$/);
    const local = signed.replace('https://oca-7.isp-b.example', `http://127.0.0.1:${port}`);

    expect((await root.exec(['nginx'])).status).toBe(0);
    try {
      const served = await fetch(local);
      expect(served.status).toBe(200);
      expect(await served.text()).toBe('segment-bytes');
      expect((await fetch(`http://127.0.0.1:${port}/titles/movie/avc1/seg-0.m4s`)).status).toBe(404);
      expect((await fetch(local.replace('/seg-0.m4s', '/seg-1.m4s').replace(/\.([A-Za-z0-9_-]{43})\//, '.' + 'A'.repeat(43) + '/'))).status).toBe(403);
    } finally {
      await root.exec(['nginx', '-s', 'stop']);
    }
  });

  it('changes nothing when run a second time', async () => {
    const second = await install('--settings', '/tmp/node.json');
    expect(second.status).toBe(0);
    expect(second.output.trim().split('\n')).toEqual(['nearstream-install: no change']);
  });

  it('changes nothing when first boot reruns the installed copy with the kept settings', async () => {
    const unit = fs.readFileSync(root.path('etc', 'systemd', 'system', 'nearstream-configure.service'), 'utf8');
    const command = /^ExecStart=(.+)$/m.exec(unit)![1].split(' ');

    const firstBoot = await root.exec(command);

    expect(command).toEqual(['/opt/nearstream/install.sh', '--settings', '/etc/nearstream/node.json']);
    expect(firstBoot.status).toBe(0);
    expect(firstBoot.output.trim().split('\n')).toEqual(['nearstream-install: no change']);
  });

  it('refuses bad settings naming the field, leaving the configuration as it was', async () => {
    const before = fs.readFileSync(root.path('etc', 'nearstream', 'agent.json'), 'utf8');
    fs.writeFileSync(root.path('tmp', 'bad.json'), JSON.stringify({ ...SETTINGS, region: 'mars-1' }));

    const bad = await install('--settings', '/tmp/bad.json');

    expect(bad.status).not.toBe(0);
    expect(bad.output).toContain('region: must be an AWS region name like us-east-1');
    expect(fs.readFileSync(root.path('etc', 'nearstream', 'agent.json'), 'utf8')).toBe(before);
  });

  it('refuses a Node.js tarball that does not match its checksum', async () => {
    const wrong = await root.exec(['/tmp/nearstream-appliance/install.sh', '--node-tarball', `/tmp/${nodeTarball}`, '--node-sha256', '0'.repeat(64)]);
    expect(wrong.status).toBe(1);
    expect(wrong.output).toContain(`/tmp/${nodeTarball} does not match --node-sha256`);
  });
});
