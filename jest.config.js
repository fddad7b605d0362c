/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: {
    '^.+\\.ts$': ['@swc/jest', { jsc: { parser: { syntax: 'typescript' }, target: 'es2022' } }],
  },
  testTimeout: 60_000,
  setupFiles: ['<rootDir>/test/support/quiet-powertools.ts'],
  reporters: ['default', '<rootDir>/test/support/summary-reporter.js'],
};
