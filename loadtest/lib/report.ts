// Printing the figures as a table and saving them under loadtest/results/ (gitignored).

import { mkdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { LoadArgs } from './args.ts';
import type { CpuTime, MachineCpu } from './cpu.ts';
import type { Machine } from './machine.ts';
import { figures, type WrkResult } from './wrk.ts';

export const RESULTS_DIR = fileURLToPath(new URL('../results/', import.meta.url));

export interface Measured {
  /** Row label, e.g. "direct" or "via gatehouse". */
  name: string;
  url: string;
  wrk: WrkResult;
  /** CPU time over the measured run, per process (null where /proc is unavailable). */
  cpu: Record<string, CpuTime | null>;
  /** CPU seconds of the whole machine over the run (null where /proc is unavailable). */
  machine: MachineCpu | null;
}

/** CPU µs per request in softirq (mostly loopback TCP delivery), machine-wide. */
export function softirqPerRequest(m: Measured): number | null {
  return m.machine === null ? null : (m.machine.softirq * 1e6) / m.wrk.requests;
}

/**
 * CPU-seconds per wall second the machine spent outside the measured processes and softirq:
 * other programs. Above ~0.1 the run competed with them for the cores.
 */
export function otherLoad(m: Measured): number | null {
  return otherLoadOf(m.cpu, m.machine, m.wrk.durationUs / 1e6);
}

/** otherLoad from the CPU time of the measured processes, the machine's, and the run's seconds. */
export function otherLoadOf(cpu: Record<string, CpuTime | null>, machine: MachineCpu | null, durationS: number): number | null {
  if (machine === null) return null;
  let ours = 0;
  for (const c of Object.values(cpu)) {
    if (c === null) return null;
    ours += c.user + c.sys;
  }
  return Math.max(0, machine.busy - ours) / durationS;
}

function fixed(n: number, digits: number): string {
  return n.toFixed(digits);
}

/** A plain text table; the first row is the header. Numbers right-aligned. */
export function table(rows: readonly (readonly string[])[]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows
    .map((r, ri) => {
      const line = r.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join('  ');
      return ri === 0 ? `${line}\n${widths.map((w) => '-'.repeat(w)).join('  ')}` : line;
    })
    .join('\n');
}

/** Requests per CPU-second of a process (the rate one core of it would sustain); null without its CPU time. */
export function requestsPerCore(requests: number, cpu: CpuTime | null | undefined): number | null {
  return cpu == null || cpu.user + cpu.sys === 0 ? null : requests / (cpu.user + cpu.sys);
}

/** "12.3 (40%)": a process's CPU µs per request and the share of it in system calls; '-' or 'n/a' without it. */
export function usPerRequest(requests: number, c: CpuTime | null | undefined): string {
  if (c === undefined) return '-';
  if (c === null || requests === 0) return 'n/a';
  const total = c.user + c.sys;
  return `${fixed((total * 1e6) / requests, 1)} (${total === 0 ? 0 : Math.round((100 * c.sys) / total)}%)`;
}

/**
 * One row per run: requests/s, p50, p99, errors, and the CPU µs per request of each process
 * with the share of it spent in the kernel.
 */
export function figuresTable(runs: readonly Measured[], processes: readonly string[]): string {
  const header = ['', 'requests/s', 'p50 ms', 'p99 ms', 'errors', ...processes.map((p) => `${p} µs/req`), 'softirq µs/req', 'other load'];
  const rows = runs.map((m) => {
    const f = figures(m.wrk);
    return [
      m.name,
      fixed(f.rps, 0),
      fixed(f.p50Ms, 2),
      fixed(f.p99Ms, 2),
      String(f.errors),
      ...processes.map((p) => usPerRequest(m.wrk.requests, m.cpu[p])),
      ((s) => (s === null ? 'n/a' : fixed(s, 1)))(softirqPerRequest(m)),
      ((o) => (o === null ? 'n/a' : fixed(o, 2)))(otherLoad(m)),
    ];
  });
  return table([header, ...rows]);
}

export const LEGEND = [
  'µs/req: CPU time the process spent per request, (n%) the share of it in system calls.',
  'softirq µs/req: machine-wide kernel softirq time per request, mostly loopback TCP delivery, charged to no process.',
  'other load: CPU-seconds per second used by other programs during the run; above ~0.1 the figures competed with them.',
].join('\n');

export function ratio(numerator: Measured, denominator: Measured): number {
  return figures(numerator.wrk).rps / figures(denominator.wrk).rps;
}

/** Writes the results as JSON to loadtest/results/<timestamp><suffix>.json; returns the path. */
export function saveResults(suffix: string, body: { kind: string; machine: Machine; load: LoadArgs; [key: string]: unknown }): string {
  mkdirSync(RESULTS_DIR, { recursive: true });
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const path = `${RESULTS_DIR}${stamp}${suffix}.json`;
  writeFileSync(path, `${JSON.stringify({ at: new Date().toISOString(), ...body }, null, 2)}\n`);
  return path;
}
