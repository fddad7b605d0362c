import { CHAOS_EXPERIMENTS } from '../../../lib/chaos/catalog';
import { LOCAL_DEFAULTS, parseChaosArgs, UsageError } from '../../../ops/chaos/args';

describe('npm run chaos -- local: arguments', () => {
  it('drills one experiment with the default load, or every one with all', () => {
    expect(parseChaosArgs(['local', 'chaos-monkey'])).toMatchObject({
      command: 'local',
      experiments: [{ name: 'chaos-monkey' }],
      players: LOCAL_DEFAULTS.players,
      seconds: LOCAL_DEFAULTS.seconds,
      workdir: LOCAL_DEFAULTS.workdir,
      basePort: LOCAL_DEFAULTS.basePort,
    });
    expect(parseChaosArgs(['local', 'all', '--players', '5', '--seconds', '30'])).toMatchObject({ experiments: CHAOS_EXPERIMENTS, players: 5, seconds: 30 });
  });

  it.each([
    [['local'], 'local: which experiment? give one of chaos-monkey, latency-monkey, lambda-errors, appliance-degradation, region-evacuation, or all'],
    [['local', 'gremlins'], "local: no chaos experiment 'gremlins'"],
    [['local', 'all', '--players', '0'], "local: --players must be a whole number from 1 to 500 (got '0')"],
    [['local', 'all', '--env', 'staging'], "local: unknown option '--env'"],
  ])('refuses %j naming what is wrong', (argv, message) => {
    expect(() => parseChaosArgs(argv)).toThrow(UsageError);
    expect(() => parseChaosArgs(argv)).toThrow(message);
  });
});
