// Runs h2load (Debian's `nghttp2-client`) for a bounded time, and reads its summary: requests,
// errors, mean time per request and, from its per-request log (`--log-file`), exact p50 and p99.

import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runTool } from './child.ts';
import type { LoadResult } from './wrk.ts';

export const H2LOAD_MISSING = 'h2load is not installed (not found on PATH).\n  Debian/Ubuntu: apt-get update && apt-get install -y nghttp2-client\n';

/** h2load's version line, or null when it is not on PATH. */
export function h2loadVersion(): string | null {
  const r = spawnSync('h2load', ['--version'], { encoding: 'utf8' });
  return r.error ? null : r.stdout.trim().split('\n')[0]!;
}

/** Exit with a clear message (non-zero) when h2load is missing. */
export function requireH2load(): string {
  const version = h2loadVersion();
  if (version === null) {
    process.stderr.write(`loadtest: ${H2LOAD_MISSING}`);
    process.exit(1);
  }
  return version;
}

/** Parses h2load's summary ("finished in 10.00s, …", "requests: …", "status codes: …", "time for request: …"). */
export function parseH2load(out: string): Omit<LoadResult, 'clientCpu' | 'p50Ms' | 'p99Ms'> {
  const finished = /finished in ([\d.]+)(m?s), ([\d.]+) req\/s/.exec(out);
  const req = /requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, (\d+) failed, (\d+) errored, (\d+) timeout/.exec(out);
  const codes = /status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx/.exec(out);
  const time = /time for request:\s+([\d.]+)(us|ms|s)\s+([\d.]+)(us|ms|s)\s+([\d.]+)(us|ms|s)/.exec(out);
  if (!finished || !req || !codes || !time) throw new Error(`could not read h2load's output:\n${out}`);
  const ms = (v: string, unit: string) => Number(v) * (unit === 'us' ? 1e-3 : unit === 's' ? 1e3 : 1);
  // Answers 2xx/3xx are the requests; failed, errored, timed out and 4xx/5xx the errors, as
  // report.lua counts wrk's.
  return {
    durationS: Number(finished[1]) * (finished[2] === 'ms' ? 1e-3 : 1),
    requests: Number(codes[1]) + Number(codes[2]),
    errors: Number(req[5]) + Number(req[6]) + Number(req[7]) + Number(codes[3]) + Number(codes[4]),
    meanMs: ms(time[5]!, time[6]!),
  };
}

/** p50 and p99 (ms, nearest rank) of the third column (µs) of h2load's `--log-file`. */
export function logPercentiles(log: string): { p50Ms: number; p99Ms: number } | null {
  const us = log.split('\n').filter((l) => l !== '').map((l) => Number(l.split('\t')[2])).filter((n) => Number.isFinite(n)).sort((a, b) => a - b);
  if (us.length === 0) return null;
  const at = (q: number) => us[Math.min(us.length - 1, Math.ceil(q * us.length) - 1)]! / 1000;
  return { p50Ms: at(0.5), p99Ms: at(0.99) };
}

export interface H2loadLoad {
  url: string;
  /** The :authority header. */
  host: string;
  durationS: number;
  clients: number;
  streams: number;
  threads: number;
  /** Read p50/p99 from a per-request log (one line per request, in a temporary directory). */
  percentiles?: boolean;
}

/** One bounded h2load run (killed if it overruns by 15 s); its CPU time read once reaped. */
export async function runH2load(o: H2loadLoad): Promise<LoadResult> {
  const logDir = o.percentiles ? mkdtempSync(join(tmpdir(), 'gatehouse-h2load-')) : null;
  const logFile = logDir === null ? null : join(logDir, 'requests.tsv');
  const args = ['-D', String(o.durationS), '-c', String(o.clients), '-m', String(o.streams), '-t', String(Math.min(o.threads, o.clients)), '-H', `:authority: ${o.host}`, ...(logFile === null ? [] : ['--log-file', logFile]), o.url];
  try {
    const { stdout, stderr, cpu } = await runTool('h2load', args, o.durationS);
    const p = logFile === null ? null : logPercentiles(readFileSync(logFile, 'utf8'));
    return { ...parseH2load(`${stdout}${stderr}`), p50Ms: p?.p50Ms ?? null, p99Ms: p?.p99Ms ?? null, clientCpu: cpu };
  } finally {
    if (logDir !== null) rmSync(logDir, { recursive: true, force: true });
  }
}
