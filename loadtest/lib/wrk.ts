// Runs wrk (Debian's `wrk` package) for a bounded time and connection count, and reads its
// figures from the one JSON line that report.lua prints in wrk's `done()` hook: exact
// HdrHistogram percentiles in microseconds, not wrk's rounded text table.

import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runTool } from './child.ts';
import type { CpuTime } from './cpu.ts';

const REPORT_LUA = fileURLToPath(new URL('./report.lua', import.meta.url));
const MARKER = 'LOADTEST_WRK_JSON ';

export interface WrkLoad {
  url: string;
  durationS: number;
  connections: number;
  threads: number;
  /** Extra request headers, e.g. { Host: 'bench.local' }. */
  headers?: Record<string, string>;
  /**
   * Pause each connection this many ms (whole, ≥ 1) after each answer (wrk's Lua `delay()`):
   * a paced load below saturation, at most connections × 1000 / (delayMs + latency ms) requests/s.
   */
  delayMs?: number;
}

export interface WrkResult {
  durationUs: number;
  requests: number;
  bytes: number;
  /** status: responses that were not 2xx or 3xx. */
  errors: { connect: number; read: number; write: number; status: number; timeout: number };
  latencyUs: { min: number; mean: number; stdev: number; max: number; p50: number; p90: number; p99: number; p999: number };
}

export interface Figures {
  rps: number;
  p50Ms: number;
  p99Ms: number;
  errors: number;
}

/** The wrk version line, or null when wrk is not on PATH. */
export function wrkVersion(): string | null {
  const r = spawnSync('wrk', ['--version'], { encoding: 'utf8' });
  if (r.error) return null;
  // `wrk --version` prints its banner and usage and exits 1; the first line is what we want.
  const first = `${r.stdout}${r.stderr}`.split('\n')[0]!;
  return first.replace(/\s*Copyright.*$/, '').trim();
}

/** Exit with a clear message (non-zero) when wrk is missing. Call before starting anything. */
export function requireWrk(): string {
  const version = wrkVersion();
  if (version === null) {
    process.stderr.write(
      'loadtest: wrk is not installed (not found on PATH).\n' +
      '  Debian/Ubuntu: apt-get update && apt-get install -y wrk\n' +
      '  macOS: brew install wrk\n',
    );
    process.exit(1);
  }
  return version;
}

/** Parses wrk's stdout; throws if report.lua's line is missing (wrk failed or was cut short). */
export function parseWrkOutput(stdout: string): WrkResult {
  const line = stdout.split('\n').find((l) => l.startsWith(MARKER));
  if (line === undefined) throw new Error(`wrk printed no ${MARKER.trim()} line; its output was:\n${stdout}`);
  return JSON.parse(line.slice(MARKER.length)) as WrkResult;
}

export function figures(r: WrkResult): Figures {
  const e = r.errors;
  return {
    rps: r.requests / (r.durationUs / 1e6),
    p50Ms: r.latencyUs.p50 / 1000,
    p99Ms: r.latencyUs.p99 / 1000,
    errors: e.connect + e.read + e.write + e.status + e.timeout,
  };
}

/** One measured load, from wrk or h2load. */
export interface LoadResult {
  /** Seconds the measured load ran. */
  durationS: number;
  /** Requests answered 2xx/3xx. */
  requests: number;
  errors: number;
  /** Mean request time, ms. */
  meanMs: number;
  /** null where the tool gave none (h2load without its per-request log). */
  p50Ms: number | null;
  p99Ms: number | null;
  /** CPU time of the load generator itself. */
  clientCpu: CpuTime | null;
}

export interface WrkRun {
  result: WrkResult;
  /** CPU seconds wrk itself used (user + system): how much of the machine the client took. */
  wrkCpu: CpuTime | null;
}

/** Runs one wrk load; wrk is killed if it overruns its duration by 15 s. */
export async function runWrk(load: WrkLoad): Promise<WrkRun> {
  if (!(load.connections >= load.threads)) throw new Error('wrk needs at least one connection per thread');
  let script = REPORT_LUA;
  let scriptDir: string | null = null;
  if (load.delayMs !== undefined) {
    if (!(Number.isInteger(load.delayMs) && load.delayMs >= 1)) throw new Error('wrk delayMs must be a whole number ≥ 1');
    scriptDir = mkdtempSync(join(tmpdir(), 'gatehouse-wrk-'));
    script = join(scriptDir, 'paced.lua');
    writeFileSync(script, `${readFileSync(REPORT_LUA, 'utf8')}\ndelay = function() return ${load.delayMs} end\n`);
  }
  const args = ['-t', String(load.threads), '-c', String(load.connections), '-d', `${load.durationS}s`, '--timeout', '5s', '-s', script];
  for (const [name, value] of Object.entries(load.headers ?? {})) args.push('-H', `${name}: ${value}`);
  args.push(load.url);
  try {
    const { stdout, cpu } = await runTool('wrk', args, load.durationS);
    return { result: parseWrkOutput(stdout), wrkCpu: cpu };
  } finally {
    if (scriptDir !== null) rmSync(scriptDir, { recursive: true, force: true });
  }
}

/** wrk's run as a LoadResult: answers that were not 2xx/3xx are errors, not requests. */
export async function runWrkLoad(load: WrkLoad): Promise<LoadResult> {
  const { result, wrkCpu } = await runWrk(load);
  const f = figures(result);
  return { durationS: result.durationUs / 1e6, requests: result.requests - result.errors.status, errors: f.errors, meanMs: result.latencyUs.mean / 1000, p50Ms: f.p50Ms, p99Ms: f.p99Ms, clientCpu: wrkCpu };
}
