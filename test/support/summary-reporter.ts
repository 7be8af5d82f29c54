// Prints, after vitest's own report, the notices of suites skipped for a missing system package
// (system-package.ts; each distinct line once, however many suite files printed it), then one
// closing line, `Tests: N passed, N failed, N skipped`, so CI logs carry a plain count whatever
// reporter format vitest uses.

import type { UserConsoleLog } from 'vitest';
import type { Reporter, TestModule } from 'vitest/node';
import { isSkipNotice } from './system-package.ts';

export default class SummaryReporter implements Reporter {
  private readonly notices = new Set<string>();

  onUserConsoleLog(log: UserConsoleLog): void {
    if (isSkipNotice(log.content)) this.notices.add(log.content.trimEnd());
  }

  onTestRunEnd(testModules: ReadonlyArray<TestModule>): void {
    let passed = 0;
    let failed = 0;
    let skipped = 0;
    for (const m of testModules) {
      for (const t of m.children.allTests()) {
        const state = t.result().state;
        if (state === 'passed') passed++;
        else if (state === 'failed') failed++;
        else skipped++;
      }
      if (m.state() === 'failed' && [...m.children.allTests()].length === 0) failed++;
    }
    const notices = [...this.notices].map((n) => `${n}\n`).join('');
    this.notices.clear();
    process.stdout.write(`\n${notices}Tests: ${passed} passed, ${failed} failed, ${skipped} skipped\n`);
  }
}
