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
  // The edge agent's benchmark reports the process's peak memory (maxRSS), here the test
  // worker's: a worker is replaced after every file, so no file measures an earlier file's peak.
  // `npm test` runs the fault-injection files (the biggest) in a jest run of their own.
  workerIdleMemoryLimit: '1MB',
};
