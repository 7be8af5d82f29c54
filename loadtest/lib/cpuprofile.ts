// Reads V8 .cpuprofile files (node --cpu-prof) and sums self time per function and per
// module, for a first look at hot spots without opening a profiler UI.

import { readFileSync } from 'node:fs';
import { table } from './report.ts';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}

interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

export interface HotSpot {
  name: string;
  selfMs: number;
  /** Share of the thread's busy (non-idle) time. */
  percent: number;
}

export interface ProfileSummary {
  file: string;
  totalMs: number;
  busyMs: number;
  functions: HotSpot[];
  modules: HotSpot[];
}

/** Where a frame's code lives: a package, a file of ours, or a V8/Node bucket. */
function moduleOf(url: string, functionName: string): string {
  if (url === '') return functionName.startsWith('(') ? functionName : '(native)';
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pkg) return pkg[1]!;
  if (url.startsWith('node:')) return url;
  const ours = /\/((?:src|loadtest)\/.*)$/.exec(url);
  return ours ? ours[1]! : url;
}

function top(totals: Map<string, number>, busyUs: number, n: number): HotSpot[] {
  return [...totals]
    .sort((a, b) => b[1] - a[1])
    .slice(0, n)
    .map(([name, us]) => ({ name, selfMs: us / 1000, percent: (100 * us) / busyUs }));
}

export function summariseProfile(file: string, n = 15): ProfileSummary {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const fns = new Map<string, number>();
  const mods = new Map<string, number>();
  let total = 0;
  let idle = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    const node = byId.get(profile.samples[i]!);
    const dt = profile.timeDeltas[i] ?? 0;
    if (node === undefined || dt <= 0) continue;
    total += dt;
    const { functionName, url, lineNumber } = node.callFrame;
    if (functionName === '(idle)') {
      idle += dt;
      continue;
    }
    const mod = moduleOf(url, functionName);
    const fn = `${functionName || '(anonymous)'} ${url === '' ? '' : `${mod}:${lineNumber + 1}`}`.trim();
    fns.set(fn, (fns.get(fn) ?? 0) + dt);
    mods.set(mod, (mods.get(mod) ?? 0) + dt);
  }
  const busy = total - idle;
  return { file, totalMs: total / 1000, busyMs: busy / 1000, functions: top(fns, busy, n), modules: top(mods, busy, n) };
}

/** Top functions and modules by self time, as % of busy time; a thread that was mostly idle gets one line. */
export function describeProfile(s: ProfileSummary): string {
  const head = `${s.file}: ${(s.totalMs / 1000).toFixed(1)} s sampled, ${(s.busyMs / 1000).toFixed(1)} s busy`;
  if (s.busyMs < 0.05 * s.totalMs) return `${head} (mostly idle: not broken down)`;
  const rows = (spots: HotSpot[]) => spots.map((h) => [h.name, h.selfMs.toFixed(0), h.percent.toFixed(1)]);
  return [
    head,
    '(native) is time in C++ and system calls (socket writes on loopback include the kernel\'s TCP work for both ends).',
    table([['self time by function', 'ms', '% of busy'], ...rows(s.functions)]),
    '',
    table([['self time by module', 'ms', '% of busy'], ...rows(s.modules)]),
  ].join('\n');
}
