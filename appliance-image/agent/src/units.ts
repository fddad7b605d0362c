import { AgentConfig } from './config';

export interface UnitPaths {
  /** The bundled agent, e.g. `/opt/nearstream/agent/nearstream-agent.js`. */
  readonly agent: string;
  /** The node's Node.js, e.g. `/usr/bin/node`. */
  readonly node: string;
  readonly configFile: string;
  /** The unprivileged user that owns the cache. */
  readonly user: string;
}

/** How long systemd waits before starting a failed fill again. */
export const FILL_RESTART_SECONDS = 300;

/** Hours in the fill window, wrapping past midnight. */
export function windowHours(startHourUtc: number, endHourUtc: number): number {
  return (endHourUtc - startHourUtc + 24) % 24;
}

/**
 * The node's systemd units, rendered from its config: the long-running agent (health reports, key
 * refresh), and the nightly fill started by a timer at the window's opening plus a random delay of
 * up to half the window, so a cluster's appliances do not all hit the origin at once. A fill that
 * fails (an origin or control plane down for longer than its retries, a manifest refused) is
 * started again FILL_RESTART_SECONDS later, at most as often as fits in one window; a fill started
 * outside its window ends at once with success, so the restarts end with the window.
 */
export function renderUnits(
  config: Pick<AgentConfig, 'fillWindow' | 'cacheDir' | 'stateDir' | 'keyringFile'>,
  paths: UnitPaths,
  /** Extra `Environment=` lines for the agent's services, e.g. the Roles Anywhere AWS config. */
  environment: readonly string[] = [],
): Record<string, string> {
  const hours = windowHours(config.fillWindow.startHourUtc, config.fillWindow.endHourUtc);
  if (hours === 0) {
    throw new Error('fillWindow: startHourUtc and endHourUtc must differ');
  }
  const keyringDir = config.keyringFile.replace(/\/[^/]+$/, '') || '/';
  const hardening = [
    `User=${paths.user}`,
    `Group=${paths.user}`,
    'NoNewPrivileges=yes',
    'ProtectSystem=strict',
    'ProtectHome=yes',
    'PrivateTmp=yes',
    'PrivateDevices=yes',
    'ProtectKernelTunables=yes',
    'ProtectKernelModules=yes',
    'ProtectControlGroups=yes',
    'RestrictSUIDSGID=yes',
    'LockPersonality=yes',
    `ReadWritePaths=${config.cacheDir} ${config.stateDir} ${keyringDir}`,
    ...environment,
  ];
  const exec = (command: string) => `ExecStart=${paths.node} ${paths.agent} ${command} --config ${paths.configFile}`;
  return {
    'nearstream-agent.service': [
      '[Unit]',
      'Description=Nearstream appliance agent: health reports and key refresh',
      'After=network-online.target nginx.service',
      'Wants=network-online.target',
      '',
      '[Service]',
      'Type=simple',
      exec('serve'),
      'Restart=always',
      'RestartSec=5',
      ...hardening,
      '',
      '[Install]',
      'WantedBy=multi-user.target',
      '',
    ].join('\n'),
    'nearstream-fill.service': [
      '[Unit]',
      'Description=Nearstream nightly fill from the origin',
      'After=network-online.target',
      'Wants=network-online.target',
      `StartLimitIntervalSec=${hours * 3600}`,
      `StartLimitBurst=${Math.ceil((hours * 3600) / FILL_RESTART_SECONDS) + 1}`,
      '',
      '[Service]',
      'Type=oneshot',
      exec('fill'),
      'Restart=on-failure',
      `RestartSec=${FILL_RESTART_SECONDS}`,
      'Nice=10',
      'IOSchedulingClass=best-effort',
      'IOSchedulingPriority=7',
      ...hardening,
      '',
    ].join('\n'),
    'nearstream-fill.timer': [
      '[Unit]',
      'Description=Start the Nearstream fill inside the nightly window',
      '',
      '[Timer]',
      `OnCalendar=*-*-* ${String(config.fillWindow.startHourUtc).padStart(2, '0')}:00:00 UTC`,
      `RandomizedDelaySec=${Math.floor((hours * 3600) / 2)}`,
      'AccuracySec=1min',
      'Persistent=false',
      '',
      '[Install]',
      'WantedBy=timers.target',
      '',
    ].join('\n'),
  };
}
