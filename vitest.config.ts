import { defineConfig } from 'vitest/config';
import { isSkipNotice } from './test/support/system-package.ts';

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    // Worker threads, sockets and child processes: separate processes keep suites from sharing state.
    pool: 'forks',
    reporters: ['default', './test/support/summary-reporter.ts'],
    // A suite skipped for a missing system package prints a notice from every file that needs it;
    // the summary reporter prints each once, so the default reporter leaves them out.
    onConsoleLog: (log) => (isSkipNotice(log) ? false : undefined),
    testTimeout: 30_000,
    hookTimeout: 30_000,
  },
});
