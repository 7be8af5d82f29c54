// CPU time of a process from /proc (Linux). On a 2-core machine the load generator, the
// proxy and the upstream compete for cores, so requests/s alone hides where the time went:
// CPU seconds per process over a run (user and kernel), and CPU µs per request, say it.
// Elsewhere: null.

import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

let ticksPerSecond: number | undefined;

/** Clock ticks per second (`getconf CLK_TCK`), the unit of /proc's CPU times. */
export function clockTicks(): number {
  if (ticksPerSecond === undefined) {
    const r = spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' });
    const n = Number(r.stdout?.trim());
    ticksPerSecond = Number.isFinite(n) && n > 0 ? n : 100;
  }
  return ticksPerSecond;
}

/** Fields of /proc/<pid>/stat after the command name; index 0 is field 3 (state). */
function statFields(pid: number | 'self'): string[] | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return null;
  }
}

export interface CpuTime {
  /** Seconds running our code and Node's (user mode). */
  user: number;
  /** Seconds in the kernel: system calls, here mostly socket reads and writes on loopback TCP. */
  sys: number;
}

/** CPU seconds of a live process, all its threads. */
export function cpuTime(pid: number): CpuTime | null {
  const f = statFields(pid);
  if (f === null) return null;
  const hz = clockTicks();
  return { user: Number(f[11]) / hz, sys: Number(f[12]) / hz }; // utime, stime (fields 14, 15)
}

/** CPU seconds of this process's children that have exited and been reaped. */
export function reapedChildrenCpuTime(): CpuTime | null {
  const f = statFields('self');
  if (f === null) return null;
  const hz = clockTicks();
  return { user: Number(f[13]) / hz, sys: Number(f[14]) / hz }; // cutime, cstime (fields 16, 17)
}

export function cpuDelta(before: CpuTime | null, after: CpuTime | null): CpuTime | null {
  return before === null || after === null ? null : { user: after.user - before.user, sys: after.sys - before.sys };
}

export interface MachineCpu {
  /** CPU seconds, all CPUs, in user, system, irq and steal time (/proc/stat). */
  busy: number;
  /**
   * CPU seconds in softirq, kept apart: the kernel charges most of loopback TCP's receive work
   * there, not to the process whose write caused it, so it is part of the cost of a request.
   */
  softirq: number;
}

export function machineCpu(): MachineCpu | null {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n')[0]!;
    const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0, steal = 0] = line.trim().split(/\s+/).slice(1).map(Number);
    const hz = clockTicks();
    return { busy: (user + nice + system + irq + steal) / hz, softirq: softirq / hz };
  } catch {
    return null;
  }
}

/**
 * Measures the CPU time each named live process spends while `work` runs, and the machine's
 * busy CPU seconds over the same window (to see whether something else was competing).
 */
export async function measureCpu<T>(pids: Record<string, number>, work: () => Promise<T>): Promise<{ value: T; cpu: Record<string, CpuTime | null>; machine: MachineCpu | null }> {
  const before = Object.fromEntries(Object.entries(pids).map(([name, pid]) => [name, cpuTime(pid)]));
  const machineBefore = machineCpu();
  const value = await work();
  const machineAfter = machineCpu();
  const cpu: Record<string, CpuTime | null> = {};
  for (const [name, pid] of Object.entries(pids)) cpu[name] = cpuDelta(before[name] ?? null, cpuTime(pid));
  const machine = machineBefore === null || machineAfter === null ? null : { busy: machineAfter.busy - machineBefore.busy, softirq: machineAfter.softirq - machineBefore.softirq };
  return { value, cpu, machine };
}
