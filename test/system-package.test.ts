// test/support/system-package.ts: a suite that needs a Debian package runs when the package's
// files are there; skips with one line naming the package and how to install it when they are
// not; and with CI=true fails instead. End to end: the project's vitest config (its reporter and
// console filter) run in a child process on fixture suites, two of which need a package that is
// never installed, prints that line once per run, and with CI=true fails the run.

import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { MISSING } from './fixtures/system-package/missing.ts';
import { isSkipNotice, requirePackage } from './support/system-package.ts';

const ROOT = path.join(import.meta.dirname, '..');
const NOTICE = `skipping fixture suites: Debian package "gatehouse-no-such-package" is not installed: no ${MISSING.files[0]} (apt-get install gatehouse-no-such-package)`;

function check(files: readonly string[], env: NodeJS.ProcessEnv): { run: boolean; printed: string[] } {
  const printed: string[] = [];
  const run = requirePackage(MISSING.name, files, { suites: MISSING.suites, env, notify: (line) => printed.push(line) });
  return { run, printed };
}

describe('requirePackage', () => {
  it('runs, printing nothing, when every file is there (CI or not)', () => {
    expect(check([process.execPath], {})).toEqual({ run: true, printed: [] });
    expect(check([process.execPath], { CI: 'true' })).toEqual({ run: true, printed: [] });
  });

  it('skips with one line naming the package, the missing file and how to install it', () => {
    expect(check([process.execPath, ...MISSING.files], {})).toEqual({ run: false, printed: [NOTICE] });
    expect(check(MISSING.files, { CI: 'false' })).toEqual({ run: false, printed: [NOTICE] });
    expect(isSkipNotice(NOTICE)).toBe(true);
    expect(isSkipNotice(`${NOTICE}\n`)).toBe(true);
    expect(isSkipNotice('skipping nothing: all is well')).toBe(false);
  });

  it('with CI=true (or 1), a missing package throws a clear error instead, and prints nothing', () => {
    for (const CI of ['true', '1']) {
      const printed: string[] = [];
      expect(() => requirePackage(MISSING.name, MISSING.files, { suites: MISSING.suites, env: { CI }, notify: (l) => printed.push(l) })).toThrow(
        `Debian package "gatehouse-no-such-package" is not installed: no ${MISSING.files[0]} (apt-get install gatehouse-no-such-package). The fixture suites need it, and CI=true makes a missing package fail the run instead of skipping (.ci/run installs it).`,
      );
      expect(printed).toEqual([]);
    }
  });
});

/** The project's vitest config on test/fixtures/system-package/ in a child process; `CI` as given. */
function runFixtures(ci: string | undefined): Promise<{ code: number | null; output: string }> {
  const vitest = path.join(path.dirname(createRequire(import.meta.url).resolve('vitest/package.json')), 'vitest.mjs');
  // Not this run's own vitest variables (pool and worker ids), nor its CI.
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('VITEST') && k !== 'CI'));
  const child = spawn(process.execPath, [vitest, 'run', '--config', 'test/fixtures/system-package/vitest.config.ts'], {
    cwd: ROOT,
    env: { ...env, NO_COLOR: '1', ...(ci === undefined ? {} : { CI: ci }) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (c: Buffer) => (output += String(c)));
  child.stderr.on('data', (c: Buffer) => (output += String(c)));
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, output }));
  });
}

describe('a vitest run with suites that need a missing package', () => {
  it('prints the line once for the run (not once per suite file), just above the count, and passes', async () => {
    const { code, output } = await runFixtures(undefined);
    expect(code, output).toBe(0);
    const lines = output.split('\n');
    expect(lines.filter((l) => l.includes('gatehouse-no-such-package')), output).toEqual([NOTICE]);
    expect(lines[lines.indexOf(NOTICE) + 1]).toBe('Tests: 1 passed, 0 failed, 2 skipped');
  });

  it('with CI=true fails the run, saying why', async () => {
    const { code, output } = await runFixtures('true');
    expect(code, output).toBe(1);
    expect(output).not.toContain(NOTICE);
    expect(output).toContain('CI=true makes a missing package fail the run instead of skipping');
    expect(output).toContain('Tests: 1 passed, 2 failed, 0 skipped');
  });
});
