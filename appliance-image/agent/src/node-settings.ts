import * as fs from 'node:fs';
import * as path from 'node:path';
import { z } from 'zod';
import { AgentConfig, agentConfigSchema, readValidatedJson } from './config';
import { renderEdgeConfig } from './edge-config';
import { renderUnits } from './units';

/** Where an installed appliance keeps things: one layout for EC2 and bare metal. */
export const NODE_LAYOUT = {
  settingsFile: '/etc/nearstream/node.json',
  configFile: '/etc/nearstream/agent.json',
  rolesAnywhereConfigFile: '/etc/nearstream/aws-config',
  cacheDir: '/var/cache/nearstream',
  stateDir: '/var/lib/nearstream',
  keyringFile: '/var/lib/nearstream/keyring/keyring.json',
  agent: '/opt/nearstream/agent/nearstream-agent.js',
  njsDir: '/opt/nearstream/nginx',
  edgeTemplate: '/opt/nearstream/nginx/nearstream-edge.conf.template',
  edgeConfig: '/etc/nginx/conf.d/nearstream-edge.conf',
  accessLog: '/var/log/nginx/nearstream-access.log',
  unitDir: '/etc/systemd/system',
  user: 'nearstream',
} as const;

/**
 * `/etc/nearstream/node.json`: what differs between appliances, written by cloud-init from EC2 user
 * data, by a NoCloud seed, or by hand on bare metal. Paths come from the standard layout.
 */
export const nodeSettingsSchema = agentConfigSchema
  .omit({ cacheDir: true, stateDir: true, keyringFile: true, edge: true })
  .extend({
    /** `address:port` players reach nginx on. */
    listen: z.string().regex(/^[0-9a-fA-F.:[\]]+:\d{1,5}$/, "must be 'address:port', e.g. 0.0.0.0:80").default('0.0.0.0:80'),
    /** Bare metal: AWS credentials through IAM Roles Anywhere with the node's certificate. */
    rolesAnywhere: z
      .strictObject({
        trustAnchorArn: z.string().startsWith('arn:'),
        profileArn: z.string().startsWith('arn:'),
        roleArn: z.string().startsWith('arn:'),
        certificateFile: z.string().startsWith('/'),
        privateKeyFile: z.string().startsWith('/'),
        /** AWS's `aws_signing_helper`, installed with the node's certificate. */
        signingHelper: z.string().startsWith('/').default('/usr/local/bin/aws_signing_helper'),
      })
      .optional(),
  });
export type NodeSettings = z.infer<typeof nodeSettingsSchema>;

export function loadNodeSettings(file: string): NodeSettings {
  return readValidatedJson(file, nodeSettingsSchema, 'node settings');
}

/** Every file the node's configuration consists of, by absolute path, rendered from its settings. */
export function renderNodeFiles(settings: NodeSettings, edgeTemplate: string, nodeBinary: string): Record<string, string> {
  const { listen, rolesAnywhere, ...agent } = settings;
  const config: AgentConfig = agentConfigSchema.parse({
    ...agent,
    cacheDir: NODE_LAYOUT.cacheDir,
    stateDir: NODE_LAYOUT.stateDir,
    keyringFile: NODE_LAYOUT.keyringFile,
    edge: { accessLog: NODE_LAYOUT.accessLog, statusUrl: `http://127.0.0.1:${listen.replace(/^.*:/, '')}/nginx_status` },
  });
  const files: Record<string, string> = {
    [NODE_LAYOUT.configFile]: `${JSON.stringify(config, null, 2)}\n`,
    [NODE_LAYOUT.edgeConfig]: renderEdgeConfig(edgeTemplate, config, { listen, njsDir: NODE_LAYOUT.njsDir, accessLog: NODE_LAYOUT.accessLog }),
  };
  const environment = rolesAnywhere ? [`Environment=AWS_CONFIG_FILE=${NODE_LAYOUT.rolesAnywhereConfigFile}`] : [];
  const units = renderUnits(config, { agent: NODE_LAYOUT.agent, node: nodeBinary, configFile: NODE_LAYOUT.configFile, user: NODE_LAYOUT.user }, environment);
  for (const [name, text] of Object.entries(units)) {
    files[path.join(NODE_LAYOUT.unitDir, name)] = text;
  }
  if (rolesAnywhere) {
    const helper = [
      rolesAnywhere.signingHelper,
      'credential-process',
      `--certificate ${rolesAnywhere.certificateFile}`,
      `--private-key ${rolesAnywhere.privateKeyFile}`,
      `--trust-anchor-arn ${rolesAnywhere.trustAnchorArn}`,
      `--profile-arn ${rolesAnywhere.profileArn}`,
      `--role-arn ${rolesAnywhere.roleArn}`,
    ].join(' ');
    files[NODE_LAYOUT.rolesAnywhereConfigFile] = `[default]\nregion = ${config.region}\ncredential_process = ${helper}\n`;
  }
  return files;
}

/**
 * Writes the node's configuration under `root` (`/` on a node), touching only files whose content
 * changes, each atomically. Returns the paths it changed: none on a second run.
 */
export function applyNodeFiles(files: Record<string, string>, root = '/'): string[] {
  const changed: string[] = [];
  for (const [file, content] of Object.entries(files)) {
    const target = path.join(root, file);
    if (fs.existsSync(target) && fs.readFileSync(target, 'utf8') === content) {
      continue;
    }
    fs.mkdirSync(path.dirname(target), { recursive: true });
    const temporary = `${target}.nearstream-new`;
    fs.writeFileSync(temporary, content, { mode: 0o644 });
    fs.renameSync(temporary, target);
    changed.push(file);
  }
  return changed;
}
