#!/usr/bin/env node
/**
 * `npm run env -- create|destroy|list|diff|synth|name`: ephemeral environments on toolkit-lib.
 * See `npm run env -- --help`; the commands live in ops/env/.
 */
import { processIo, runEnv } from '../ops/env/main';

// The SDK's Node-version notice would interleave with the progress lines; it says nothing actionable here.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

runEnv(process.argv.slice(2), processIo()).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`npm run env: ${(error as Error).stack ?? String(error)}\n`);
    process.exitCode = 1;
  },
);
