// ESLint 9 flat config: typescript-eslint recommended, plus the layering rule of DESIGN.md.
import tseslint from 'typescript-eslint';

const pureDirs = ['src/protocol/**/*.ts', 'src/commands/**/*.ts', 'src/topology/**/*.ts'];

export default tseslint.config(
  { ignores: ['node_modules/**', '.tap/**', 'bench/results/**', 'docs/**'] },
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-non-null-assertion': 'off',
    },
  },
  {
    files: pureDirs,
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: ['node:net', 'node:fs', 'node:worker_threads', 'net', 'fs', 'worker_threads', 'node:fs/promises'].map((name) => ({
            name,
            message: 'protocol/, commands/ and topology/ are pure: no I/O and no threads (DESIGN.md).',
          })),
        },
      ],
    },
  },
);
