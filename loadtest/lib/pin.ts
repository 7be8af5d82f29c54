// CPU pinning with taskset (util-linux): the proxy under test on one core, the load generator
// and the upstream on the other, so the proxy's requests/s is that of one core and does not
// compete with the client for it.

import { spawnSync } from 'node:child_process';

export const TASKSET_MISSING = 'taskset is not installed (not found on PATH); nothing is pinned.\n  Debian/Ubuntu: apt-get update && apt-get install -y util-linux\n';

export function hasTaskset(): boolean {
  return !spawnSync('taskset', ['-V'], { encoding: 'utf8' }).error;
}

/**
 * Pins every thread of `pid` to `cpu` (`taskset -a -p -c`); threads and children it starts later
 * inherit it. Throws if taskset fails.
 */
export function pin(pid: number, cpu: number): void {
  const r = spawnSync('taskset', ['-a', '-p', '-c', String(cpu), String(pid)], { encoding: 'utf8' });
  if (r.error || r.status !== 0) throw new Error(`taskset -a -p -c ${cpu} ${pid} failed: ${r.error?.message ?? r.stderr}`);
}
