import { FILL_RESTART_SECONDS, renderUnits, windowHours } from '../../appliance-image/agent/src/units';

const paths = { agent: '/opt/nearstream/agent/nearstream-agent.js', node: '/usr/bin/node', configFile: '/etc/nearstream/agent.json', user: 'nearstream' };
const config = { fillWindow: { startHourUtc: 22, endHourUtc: 6 }, cacheDir: '/srv/nearstream/cache', stateDir: '/var/lib/nearstream', keyringFile: '/etc/nearstream/keyring/keyring.json' };

describe('systemd units', () => {
  const units = renderUnits(config, paths);

  it('starts the fill at the window\'s opening with a random delay of up to half the window', () => {
    expect(windowHours(22, 6)).toBe(8);
    expect(units['nearstream-fill.timer']).toContain('OnCalendar=*-*-* 22:00:00 UTC');
    expect(units['nearstream-fill.timer']).toContain('RandomizedDelaySec=14400');
    expect(units['nearstream-fill.timer']).toContain('WantedBy=timers.target');
  });

  it('runs the fill and the agent as the unprivileged cache owner, writing only the cache, state and key ring', () => {
    for (const unit of ['nearstream-fill.service', 'nearstream-agent.service']) {
      expect(units[unit]).toContain('User=nearstream');
      expect(units[unit]).toContain('ProtectSystem=strict');
      expect(units[unit]).toContain('NoNewPrivileges=yes');
      expect(units[unit]).toContain('ReadWritePaths=/srv/nearstream/cache /var/lib/nearstream /etc/nearstream/keyring');
    }
    expect(units['nearstream-fill.service']).toContain('ExecStart=/usr/bin/node /opt/nearstream/agent/nearstream-agent.js fill --config /etc/nearstream/agent.json');
    expect(units['nearstream-agent.service']).toContain('ExecStart=/usr/bin/node /opt/nearstream/agent/nearstream-agent.js serve --config /etc/nearstream/agent.json');
    expect(units['nearstream-agent.service']).toContain('Restart=always');
  });

  it('starts a failed fill again after a pause, no more often than fits in one window', () => {
    const fillUnit = units['nearstream-fill.service'];
    expect(fillUnit).toContain('Restart=on-failure');
    expect(fillUnit).toContain(`RestartSec=${FILL_RESTART_SECONDS}`);
    expect(fillUnit).toContain('StartLimitIntervalSec=28800');
    expect(fillUnit).toContain(`StartLimitBurst=${28800 / FILL_RESTART_SECONDS + 1}`);
    expect(fillUnit.indexOf('StartLimitIntervalSec')).toBeLessThan(fillUnit.indexOf('[Service]'));
  });

  it('refuses an empty window', () => {
    expect(() => renderUnits({ ...config, fillWindow: { startHourUtc: 3, endHourUtc: 3 } }, paths)).toThrow('fillWindow: startHourUtc and endHourUtc must differ');
  });
});
