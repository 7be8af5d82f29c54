// `npx node loadtest/h2-bench.ts [--duration S --warmup S --connections N --threads N]`
//
// HTTP/2 against HTTP/1.1 on Gatehouse's HTTPS listener (`--workers 1`, local mode, the generated
// self-signed certificate, one Ingress host → the echo upstream over HTTP/1.1): the same upstream,
// the same number of requests in flight (--connections), one target after the other:
//
//   https http/1.1   wrk, --connections TLS connections, one request in flight on each
//   h2               h2load, --connections h2 connections (ALPN h2), one stream in flight on each
//   h2 multiplexed   h2load, --connections/10 connections with 10 streams in flight on each
//
// For each: requests/s, and Gatehouse's CPU time per request from /proc (the whole process: its
// one worker thread does the work, the control plane idles), hence requests/s per core of
// Gatehouse CPU: 1e6 / (µs per request), the rate one core would sustain. The figure to compare
// is h2 / http/1.1 per core; raw requests/s on a 2-core machine also depend on what the load
// generator and the upstream take. Results go to loadtest/results/<timestamp>-h2-bench.json.
// Needs wrk and h2load (Debian: apt-get install -y wrk nghttp2-client). See loadtest/README.md.

import { readdirSync, readFileSync } from 'node:fs';
import { startBench } from './lib/bench-processes.ts';
import { clockTicks, cpuDelta, measureCpu, type CpuTime, type MachineCpu } from './lib/cpu.ts';
import { requireH2load, runH2load } from './lib/h2load.ts';
import { ECHO_BODY, startEchoUpstream } from './lib/echo-upstream.ts';
import { startGatehouse } from './lib/gatehouse.ts';
import { expectH2Body, expectHttpsBody } from './lib/http-check.ts';
import { describeMachine } from './lib/machine.ts';
import { requestsPerCore, saveResults, table, usPerRequest } from './lib/report.ts';
import { runWrkLoad, type LoadResult } from './lib/wrk.ts';

const HOST = 'bench.local';
const WORKERS = 1;
/** Streams in flight per connection for the multiplexed h2 run. */
const STREAMS = 10;

// ---- the worker thread's own CPU time ---------------------------------------------------

/**
 * CPU seconds of the threads named `gatehouse-worke…` (Linux keeps 15 characters of the
 * `gatehouse-worker-0` Worker name) of process `pid`: the data plane alone, without the control
 * plane's thread or V8's helper threads (GC, compilation), which the process figure includes.
 */
function workerThreadCpu(pid: number): CpuTime | null {
  try {
    const hz = clockTicks();
    let user = 0;
    let sys = 0;
    let found = false;
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      if (!readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8').startsWith('gatehouse-work')) continue;
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      user += Number(f[11]) / hz;
      sys += Number(f[12]) / hz;
      found = true;
    }
    return found ? { user, sys } : null;
  } catch {
    return null;
  }
}

// ---- the run ---------------------------------------------------------------------------

interface Run {
  name: string;
  tool: string;
  load: LoadResult;
  cpu: Record<string, CpuTime | null>;
  machine: MachineCpu | null;
}

const { args, machine, started } = startBench();
const h2load = requireH2load();

const perCore = (r: Run, p = 'gatehouse'): number | null => requestsPerCore(r.load.requests, r.cpu[p]);
const usPerReq = (r: Run, p: string): string => usPerRequest(r.load.requests, r.cpu[p]);

try {
  const upstream = await startEchoUpstream();
  started.upstreams.push(upstream);
  const gatehouse = (started.gatehouse = await startGatehouse({ host: HOST, upstreamPort: upstream.port, workers: WORKERS }));
  const url = `https://127.0.0.1:${gatehouse.httpsPort}/`;
  await expectHttpsBody(gatehouse.httpsPort, ECHO_BODY, HOST);
  await expectH2Body(gatehouse.httpsPort, ECHO_BODY, HOST);

  const multiplexedClients = Math.max(1, Math.round(args.connections / STREAMS));
  const targets: { name: string; tool: string; run: (durationS: number) => Promise<LoadResult> }[] = [
    { name: 'https http/1.1', tool: `wrk -c${args.connections}`, run: (d) => runWrkLoad({ url, durationS: d, connections: args.connections, threads: args.threads, headers: { Host: HOST } }) },
    { name: 'h2', tool: `h2load -c${args.connections} -m1`, run: (d) => runH2load({ url, host: HOST, durationS: d, clients: args.connections, streams: 1, threads: args.threads }) },
    { name: 'h2 multiplexed', tool: `h2load -c${multiplexedClients} -m${STREAMS}`, run: (d) => runH2load({ url, host: HOST, durationS: d, clients: multiplexedClients, streams: STREAMS, threads: args.threads }) },
  ];
  const pids = { gatehouse: gatehouse.child.pid, upstream: upstream.child.pid };
  const runs: Run[] = [];
  for (const t of targets) {
    if (args.warmupS > 0) {
      process.stderr.write(`warm-up: ${t.name}, ${args.warmupS} s\n`);
      await t.run(args.warmupS);
    }
    process.stderr.write(`measure: ${t.name} (${t.tool}), ${args.durationS} s\n`);
    const threadBefore = workerThreadCpu(pids.gatehouse);
    const { value, cpu, machine: m } = await measureCpu(pids, () => t.run(args.durationS));
    const worker = cpuDelta(threadBefore, workerThreadCpu(pids.gatehouse));
    runs.push({ name: t.name, tool: t.tool, load: value, cpu: { ...cpu, worker, client: value.clientCpu }, machine: m });
  }
  await started.stop();

  const header = ['', 'tool', 'requests/s', 'mean ms', 'p99 ms', 'errors', 'gatehouse µs/req', 'req/s per core', 'worker thread µs/req', 'upstream µs/req', 'client µs/req'];
  const rows = runs.map((r) => [
    r.name,
    r.tool,
    (r.load.requests / r.load.durationS).toFixed(0),
    r.load.meanMs.toFixed(2),
    r.load.p99Ms === null ? '-' : r.load.p99Ms.toFixed(2),
    String(r.load.errors),
    usPerReq(r, 'gatehouse'),
    ((p) => (p === null ? 'n/a' : p.toFixed(0)))(perCore(r)),
    usPerReq(r, 'worker'),
    usPerReq(r, 'upstream'),
    usPerReq(r, 'client'),
  ]);
  const [h1, h2, mux] = runs.map((r) => perCore(r));
  const ratio = (a: number | null | undefined, b: number | null | undefined) => (a == null || b == null ? 'n/a' : (a / b).toFixed(2));
  const out = [
    '',
    `Gatehouse HTTPS listener (--workers ${WORKERS}), ${args.connections} requests in flight, ${args.durationS} s each after ${args.warmupS} s warm-up, GET / (${Buffer.byteLength(ECHO_BODY)}-byte body) → HTTP/1.1 echo upstream`,
    table([header, ...rows]),
    'µs/req: CPU time per request, (n%) the share in system calls. gatehouse: the whole process (its worker thread, the idle control plane, V8 GC and compiler threads);',
    'worker thread: the data-plane thread alone. req/s per core: requests / Gatehouse process CPU-seconds (1e6 / its µs per request), the rate one core sustains.',
    '',
    `h2 / http/1.1 requests/s per core: ${ratio(h2, h1)} (one stream per connection), ${ratio(mux, h1)} (${STREAMS} streams per connection)`,
    describeMachine(machine),
    h2load,
  ];
  if (runs.some((r) => r.load.errors > 0)) out.push('WARNING: errors were counted (non-2xx/3xx, socket errors or timeouts); the figures include them.');
  process.stdout.write(`${out.join('\n')}\n`);
  const saved = saveResults('-h2-bench', { kind: 'h2-bench', machine, load: args, host: HOST, workers: WORKERS, h2load, runs: runs.map((r) => ({ ...r, requestsPerSecond: r.load.requests / r.load.durationS, requestsPerCore: perCore(r), requestsPerWorkerThreadCore: perCore(r, 'worker') })) });
  process.stdout.write(`results: ${saved}\n`);
} catch (err) {
  await started.stop();
  process.stderr.write(`h2-bench failed: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
}
