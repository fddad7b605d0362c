#!/usr/bin/env node
/**
 * `npm run smoke`: the post-deploy smoke test of a deployed environment (ops/smoke/). The pipeline
 * runs it after deploying staging and prod with the stacks' outputs in variables; from a laptop,
 * `npm run smoke -- --env pr-7` reads them from the stacks. `--help` lists the options.
 */
import { runSmokeCli } from '../ops/smoke/cli';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
runSmokeCli(process.argv.slice(2), process.env).then(
  (code) => process.exit(code),
  (error: Error) => {
    process.stderr.write(`npm run smoke: ${error.stack ?? error.message}\n`);
    process.exit(1);
  },
);
