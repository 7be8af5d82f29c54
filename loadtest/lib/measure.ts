// One target under load: warm it up, then measure it with wrk while reading the CPU time of
// each process involved over the same window.

import type { LoadArgs } from './args.ts';
import { measureCpu } from './cpu.ts';
import type { Measured } from './report.ts';
import { runWrk } from './wrk.ts';

export interface Target {
  /** Row label, e.g. "direct". */
  name: string;
  url: string;
  headers?: Record<string, string>;
  /** The processes serving this target, by the name the table shows: { gatehouse: pid, upstream: pid }. */
  pids: Record<string, number>;
}

function load(t: Target, args: LoadArgs, durationS: number) {
  return { url: t.url, headers: t.headers, durationS, connections: args.connections, threads: args.threads };
}

/** Unmeasured load: lets V8 optimise the hot paths and the proxies open their upstream connections. */
export async function warmUp(t: Target, args: LoadArgs): Promise<void> {
  if (args.warmupS === 0) return;
  process.stderr.write(`warm-up: ${t.name}, ${args.warmupS} s\n`);
  await runWrk(load(t, args, args.warmupS));
}

export async function measure(t: Target, args: LoadArgs): Promise<Measured> {
  process.stderr.write(`measure: ${t.name}, ${args.durationS} s, ${args.connections} connections, ${args.threads} wrk thread(s)\n`);
  const { value, cpu, machine } = await measureCpu(t.pids, () => runWrk(load(t, args, args.durationS)));
  return { name: t.name, url: t.url, wrk: value.result, cpu: { ...cpu, wrk: value.wrkCpu }, machine };
}
