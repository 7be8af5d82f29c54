// `node loadtest/ab-bench.ts BASE_DIR [--duration S --warmup S --connections N --rounds N --h2]`
// (BASE_DIR: e.g. `git worktree add /tmp/gh-base main`, with `ln -s $PWD/node_modules /tmp/gh-base/`)
//
// Two Gatehouse checkouts side by side, one worker each, the same echo upstream: BASE_DIR (a
// `git worktree` of the baseline, with node_modules) and this one, measured in alternation
// (base, ours, then ours, base …), each Gatehouse pinned to CPU 1, wrk and the upstream to CPU 0, so that both see the same machine. Prints per round and in total
// the Gatehouse CPU µs per request (user + sys) and requests/s per Gatehouse core
// (requests / Gatehouse CPU seconds). For before/after figures of a data-plane change. With --h2,
// h2load drives HTTP/2 over TLS (--connections connections, one stream in flight on each) instead of wrk.

import { availableParallelism } from 'node:os';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { stopAll } from './lib/child.ts';
import { ECHO_BODY, startEchoUpstream } from './lib/echo-upstream.ts';
import { startGatehouse, type Gatehouse } from './lib/gatehouse.ts';
import { expectBody, expectH2Body } from './lib/http-check.ts';
import { hasTaskset, pin } from './lib/pin.ts';
import { requireWrk, runWrkLoad, type LoadResult } from './lib/wrk.ts';
import { requireH2load, runH2load } from './lib/h2load.ts';
import { measureCpu } from './lib/cpu.ts';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { duration: { type: 'string', default: '5' }, warmup: { type: 'string', default: '3' }, connections: { type: 'string', default: '50' }, rounds: { type: 'string', default: '3' }, h2: { type: 'boolean', default: false } },
});
const base = positionals[0];
if (base === undefined) throw new Error('usage: node loadtest/ab-bench.ts BASE_DIR [--duration S --rounds N]');
if (values.h2) requireH2load();
else requireWrk();
const bounded = (v: string, max: number) => Math.min(max, Math.max(1, Number(v)));
const args = { durationS: bounded(values.duration, 60), warmupS: bounded(values.warmup, 30), connections: bounded(values.connections, 500), threads: 1, profile: false };
const rounds = bounded(values.rounds, 30);
const HOST = 'bench.local';

/** Pins every thread of `pid` to `cpu` (lib/pin.ts; skipped where taskset is missing or there is one CPU). */
const canPin = hasTaskset() && availableParallelism() >= 2;
const pinTo = (pid: number, cpu: number): void => {
  if (canPin) pin(pid, cpu);
};
// This runner, wrk and the upstream on CPU 0 (children inherit it), each Gatehouse on CPU 1, as the table measures.
pinTo(process.pid, 0);

const { startGatehouse: startBase } = (await import(resolve(base, 'loadtest/lib/gatehouse.ts'))) as { startGatehouse: typeof startGatehouse };
const upstream = await startEchoUpstream();
const started: Gatehouse[] = [];
try {
  started.push(await startBase({ host: HOST, upstreamPort: upstream.port, workers: 1 }));
  started.push(await startGatehouse({ host: HOST, upstreamPort: upstream.port, workers: 1 }));
  for (const g of started) pinTo(g.child.pid, 1);
  /** One bounded load on `g`, wrk or h2load, with the Gatehouse CPU time over the same window. */
  const load = async (g: Gatehouse, durationS: number): Promise<{ r: LoadResult; cpu: { user: number; sys: number } }> => {
    const run = values.h2
      ? () => runH2load({ url: `https://127.0.0.1:${g.httpsPort}/`, host: HOST, durationS, clients: args.connections, streams: 1, threads: 1 })
      : () => runWrkLoad({ url: `http://127.0.0.1:${g.httpPort}/`, headers: { Host: HOST }, durationS, connections: args.connections, threads: 1 });
    const { value, cpu } = await measureCpu({ gatehouse: g.child.pid }, run);
    return { r: value, cpu: cpu.gatehouse! };
  };
  const names = ['base', 'ours'];
  for (const g of started) {
    if (values.h2) await expectH2Body(g.httpsPort, ECHO_BODY, HOST);
    else await expectBody(`http://127.0.0.1:${g.httpPort}/`, ECHO_BODY, HOST);
    await load(g, args.warmupS);
  }
  const total = started.map(() => ({ requests: 0, cpu: 0, wall: 0 }));
  const line = (name: string, requests: number, cpu: number, wall: number) =>
    `${name.padEnd(5)} ${(requests / wall).toFixed(0).padStart(7)} req/s  ${((cpu * 1e6) / requests).toFixed(1).padStart(6)} µs CPU/req  ${(requests / cpu).toFixed(0).padStart(7)} req/s per core`;
  /** ours/base CPU per request in each round: its median shrugs off a round another program disturbed. */
  const paired: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const perRequest: number[] = [];
    // Alternate who goes first, so that neither always follows the other.
    for (const i of r % 2 === 0 ? [0, 1] : [1, 0]) {
      const { r: m, cpu: c } = await load(started[i]!, args.durationS);
      const cpu = c.user + c.sys;
      total[i]!.requests += m.requests;
      total[i]!.cpu += cpu;
      total[i]!.wall += m.durationS;
      perRequest[i] = cpu / m.requests;
      process.stdout.write(`round ${r + 1} ${line(names[i]!, m.requests, cpu, m.durationS)}  (sys ${((c.sys * 1e6) / m.requests).toFixed(1)} µs)\n`);
    }
    paired.push(perRequest[1]! / perRequest[0]!);
  }
  const sorted = [...paired].sort((a, b) => a - b);
  const median = sorted.length % 2 === 1 ? sorted[(sorted.length - 1) / 2]! : (sorted[sorted.length / 2 - 1]! + sorted[sorted.length / 2]!) / 2;
  process.stdout.write('total\n');
  for (const [i, name] of names.entries()) process.stdout.write(`  ${line(name, total[i]!.requests, total[i]!.cpu, total[i]!.wall)}\n`);
  const [b, o] = total;
  process.stdout.write(`ours/base CPU per request: ${((o!.cpu / o!.requests) / (b!.cpu / b!.requests)).toFixed(3)} in total, ${median.toFixed(3)} median of the rounds (${sorted.map((x) => x.toFixed(2)).join(' ')})\n`);
} finally {
  for (const g of started) await g.stop();
  await stopAll([upstream.child]);
}
