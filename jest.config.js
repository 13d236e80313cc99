/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test', '<rootDir>/device/test'],
  testMatch: ['**/*.test.ts'],
  transform: { '^.+\\.(t|j)sx?$': ['@swc/jest', { jsc: { target: 'es2022' } }] },
  globalSetup: '<rootDir>/test/support/global-setup.js',
  setupFiles: ['<rootDir>/test/support/polyfills.js'],
  setupFilesAfterEnv: ['aws-cdk-lib/testhelpers/jest-autoclean'],
  testTimeout: 60000,
  maxWorkers: 2,
  // The edge agent's benchmark reports the memory of the process it runs in (here the test
  // worker): a worker that grew in an earlier file is replaced, so a later file measures itself.
  // `npm test` runs the fault-injection files (the biggest) in a jest run of their own.
  workerIdleMemoryLimit: '512MB',
};
