import { LocalKms } from '../services/kms-server';
import { LOCAL_ACCOUNT_ID } from './platform-state';

export interface RegionalKmsOptions {
  /** The local regions, A first. */
  readonly regions: readonly string[];
  /** The content key's alias, the data stack's name for it in every region. */
  readonly alias: string;
  /** Where the stand-ins keep their master keys across restarts. */
  readonly stateFile: string;
  /** One port per region, in the same order. */
  readonly ports: readonly number[];
  /** Hears each stand-in as it starts, to stop it with the rest. */
  readonly onStarted: (kms: LocalKms) => void;
}

/**
 * One KMS stand-in per local region, as a KMS key lives in one region: each holds that region's
 * content key (key id `content-keys-<region>`) under the alias the data stack gives it. Their master
 * keys are kept in `stateFile`, so the content keys sealed before a restart still open after it.
 */
export async function startRegionalKms(options: RegionalKmsOptions): Promise<LocalKms[]> {
  const started: LocalKms[] = [];
  // One after the other: they share the state file, and each adds its key to it.
  for (const [index, region] of options.regions.entries()) {
    const kms = await LocalKms.start({
      keys: [{ keyId: `content-keys-${region}`, aliases: [options.alias] }],
      region,
      accountId: LOCAL_ACCOUNT_ID,
      stateFile: options.stateFile,
      port: options.ports[index],
    });
    options.onStarted(kms);
    started.push(kms);
  }
  return started;
}
