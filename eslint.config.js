// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['node_modules/**', 'coverage/**', 'loadtest/results/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { process: 'readonly', console: 'readonly', URL: 'readonly' } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
    },
  },
  {
    // An ES import of node:http reads every export to bind them, and http.WebSocket is a getter
    // that loads Node's bundled undici (fetch, WebSocket): about 13 MB in each thread that does it,
    // the main thread and every worker (measured here: ES import +15.6 MB, require +2.3 MB). Code
    // that runs in Gatehouse takes it from process.getBuiltinModule('node:http'); types import freely.
    files: ['src/**/*.ts', 'examples/**/*.ts'],
    ignores: ['**/*.test.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': ['error', {
        paths: [
          { name: 'node:http', allowTypeImports: true, message: "use process.getBuiltinModule('node:http'): an ES import loads Node's bundled undici (eslint.config.js)." },
          { name: 'http', allowTypeImports: true, message: "use process.getBuiltinModule('node:http'): an ES import loads Node's bundled undici (eslint.config.js)." },
        ],
      }],
    },
  },
  {
    // The dashboard's page script runs in the browser (src/observability/dashboard/, no build step).
    files: ['src/observability/dashboard/**/*.js'],
    languageOptions: { globals: { document: 'readonly', Node: 'readonly', fetch: 'readonly', performance: 'readonly', setTimeout: 'readonly' } },
  },
  {
    // The core is pure: no node: modules, no I/O, no clocks, no randomness (DESIGN.md, "compile is pure").
    files: ['src/core/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        patterns: [
          { regex: '^node:', message: 'src/core is pure: no node: imports.' },
          { regex: '^(fs|path|os|net|http|https|http2|tls|crypto|child_process|worker_threads|dns|stream|timers|events|util|url)(/.*)?$', message: 'src/core is pure: no Node.js built-ins.' },
          { regex: '^(undici|pino|@kubernetes/client-node|find-my-way|prom-client|http-proxy-3)$', message: 'src/core is pure: no I/O libraries.' },
          { regex: '^(\\.\\./)+(sources|dataplane|control|observability)/', message: 'src/core must not depend on the outer layers.' },
        ],
      }],
      'no-restricted-globals': ['error',
        { name: 'process', message: 'src/core is pure.' },
        { name: 'fetch', message: 'src/core is pure: no I/O.' },
        { name: 'setTimeout', message: 'src/core is pure: no clocks.' },
        { name: 'setInterval', message: 'src/core is pure: no clocks.' },
        { name: 'require', message: 'src/core is pure.' },
      ],
      'no-restricted-properties': ['error',
        { object: 'Date', property: 'now', message: 'src/core is pure: no clocks.' },
        { object: 'Math', property: 'random', message: 'src/core is pure: no randomness.' },
        { object: 'performance', property: 'now', message: 'src/core is pure: no clocks.' },
      ],
    },
  },
);
