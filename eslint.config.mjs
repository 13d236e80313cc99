import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['node_modules/', '**/node_modules/', 'dist/', '**/dist/', 'dist-jsii/', 'cdk.out/', '**/*.d.ts', 'lib/**/*.js', '.jsii'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-require-imports': 'error',
      'eqeqeq': ['error', 'always'],
      'no-console': ['error', { allow: ['error'] }],
      'prefer-const': 'error',
    },
  },
  {
    files: ['bench/**/*.ts', 'scripts/**', 'device/bench.ts', 'device/build.mjs'],
    rules: { 'no-console': 'off' },
  },
  {
    files: ['**/*.js', '**/*.mjs'],
    languageOptions: { globals: { require: 'readonly', module: 'writable', process: 'readonly', __dirname: 'readonly', console: 'readonly' } },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
);
