const os = require('node:os');

/** @type {import('jest').Config} */
module.exports = {
  // Most test files spend their time waiting on child processes and local servers (DynamoDB Local,
  // nginx, ffmpeg, cdk synth): jest's default of one worker per core less one leaves a 2-core
  // machine half idle (measured: 596 s with one worker, 368 s with two).
  maxWorkers: Math.max(2, os.availableParallelism() - 1),
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  // Transpile only: `npm test` type-checks the whole tree once with tsc before jest starts.
  transform: {
    '^.+\\.ts$': ['ts-jest', { diagnostics: false }],
  },
  testTimeout: 60_000,
  // One scratch directory per run, removed at the end; a process or mount left behind fails the run.
  globalSetup: '<rootDir>/test/support/global-setup.ts',
  globalTeardown: '<rootDir>/test/support/global-teardown.ts',
  setupFiles: ['<rootDir>/test/support/quiet-powertools.ts'],
  reporters: ['default', '<rootDir>/test/support/summary-reporter.js'],
};
