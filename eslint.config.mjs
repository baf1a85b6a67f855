// Lint rules: typescript-eslint's recommended set plus the type-aware checks that
// catch real bugs in async gRPC code, and the package boundaries of the layout:
// services import only @spindle/sdk and @spindle/runtime (never each other, never
// another package's src/), and the SDK imports nothing internal.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const noDeepImports = {
  patterns: [{ group: ['@spindle/*/src/*', '@spindle/*/dist/*'], message: 'import the package entry point, not its files' }],
};

export default tseslint.config(
  { ignores: ['**/dist/**', '**/node_modules/**', 'sdk/src/gen/**', 'coverage/**', 'vitest.config.ts'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    languageOptions: {
      parserOptions: {
        project: ['tsconfig.test.json', 'sdk/tsconfig.json', 'packages/*/tsconfig.json', 'services/*/tsconfig.json', 'cli/tsconfig.json'],
        tsconfigRootDir: import.meta.dirname,
      },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: false }],
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports', disallowTypeAnnotations: false }],
      // Sanitizers and parsers match control characters on purpose.
      'no-control-regex': 'off',
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-restricted-imports': ['error', noDeepImports],
    },
  },
  {
    files: ['services/**/*.ts'],
    ignores: ['services/*/test/**'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          ...noDeepImports,
          paths: ['@spindle/coordinator', '@spindle/fetch-worker', '@spindle/stats-worker', '@spindle/cli'].map((name) => ({
            name,
            message: 'services talk over gRPC; share code through @spindle/runtime',
          })),
        },
      ],
    },
  },
  {
    files: ['**/*.test.ts', '**/test/**/*.ts'],
    rules: { '@typescript-eslint/no-non-null-assertion': 'off' },
  },
  {
    files: ['**/*.js', '**/*.cjs'],
    languageOptions: { sourceType: 'commonjs', globals: { require: 'readonly', module: 'writable', process: 'readonly', console: 'readonly', __dirname: 'readonly', Buffer: 'readonly', setTimeout: 'readonly' } },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
);
