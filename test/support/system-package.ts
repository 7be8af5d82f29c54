// Suites that need a Debian system package (pebble today; chromium, nginx later) ask for it here,
// so `npm install && npm test` passes on a fresh machine without it:
//
//   describe.runIf(requirePackage('pebble', ['/usr/bin/pebble'], { suites: 'ACME suites' }))('…', () => { … });
//
// Installed (every file exists): true, nothing printed. Missing: false, and one line
//   skipping ACME suites: Debian package "pebble" is not installed: no /usr/bin/pebble (apt-get install pebble)
// goes to the console, which vitest forwards to the main process: vitest.config.ts keeps it out of
// the default reporter's output (`onConsoleLog: isSkipNotice`), and summary-reporter.ts prints each
// distinct line once per run, above its closing count, however many suite files skipped for it.
// With CI=true (CI sets it; .ci/run installs the packages) a missing package throws instead, so the
// suite file fails at collection and the run fails.

import { existsSync } from 'node:fs';

export interface RequirePackageOptions {
  /** What is skipped without the package, for the notice: 'ACME suites'. */
  readonly suites: string;
  /** Default process.env; CI=true (or 1) makes a missing package an error. */
  readonly env?: NodeJS.ProcessEnv;
  /** Where the notice goes; default console.warn. */
  readonly notify?: (line: string) => void;
}

const NOTICE = /^skipping .+: Debian package "[^"]+" is not installed: no .+ \(apt-get install \S+\)$/;

/** Whether a console line is the notice requirePackage prints when it skips. */
export function isSkipNotice(line: string): boolean {
  return NOTICE.test(line.trimEnd());
}

function isCi(env: NodeJS.ProcessEnv): boolean {
  return /^(true|1)$/i.test(env.CI ?? '');
}

/**
 * Whether the suites needing Debian package `name` can run: every one of `files` exists. When one
 * is missing, prints the one-line notice and returns false, or with CI=true throws.
 */
export function requirePackage(name: string, files: readonly string[], o: RequirePackageOptions): boolean {
  const missing = files.find((f) => !existsSync(f));
  if (missing === undefined) return true;
  const why = `Debian package "${name}" is not installed: no ${missing} (apt-get install ${name})`;
  if (isCi(o.env ?? process.env)) {
    throw new Error(`${why}. The ${o.suites} need it, and CI=true makes a missing package fail the run instead of skipping (.ci/run installs it).`);
  }
  (o.notify ?? console.warn)(`skipping ${o.suites}: ${why}`);
  return false;
}
