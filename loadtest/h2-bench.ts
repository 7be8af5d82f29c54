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

import { spawn, spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { connect as h2connect } from 'node:http2';
import { request as httpsRequest } from 'node:https';
import type { LoadArgs } from './lib/args.ts';
import { startBench } from './lib/bench-processes.ts';
import { cpuDelta, measureCpu, reapedChildrenCpuTime, type CpuTime, type MachineCpu } from './lib/cpu.ts';
import { ECHO_BODY, startEchoUpstream } from './lib/echo-upstream.ts';
import { startGatehouse } from './lib/gatehouse.ts';
import { describeMachine } from './lib/machine.ts';
import { saveResults, table } from './lib/report.ts';
import { figures, runWrk } from './lib/wrk.ts';

const HOST = 'bench.local';
const WORKERS = 1;
/** Streams in flight per connection for the multiplexed h2 run. */
const STREAMS = 10;

// ---- h2load ----------------------------------------------------------------------------

function requireH2load(): string {
  const r = spawnSync('h2load', ['--version'], { encoding: 'utf8' });
  if (r.error) {
    process.stderr.write('loadtest: h2load is not installed (not found on PATH).\n  Debian/Ubuntu: apt-get update && apt-get install -y nghttp2-client\n');
    process.exit(1);
  }
  return r.stdout.trim().split('\n')[0]!;
}

interface LoadResult {
  /** Seconds the measured load ran. */
  durationS: number;
  /** Requests answered 2xx/3xx. */
  requests: number;
  errors: number;
  /** Mean request time, ms (h2load gives no percentiles; wrk's p50 otherwise). */
  meanMs: number;
  p99Ms: number | null;
  clientCpu: CpuTime | null;
}

/** Parses h2load's summary ("finished in 10.00s, …", "requests: …", "status codes: …", "time for request: …"). */
function parseH2load(out: string): Omit<LoadResult, 'clientCpu'> {
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
    p99Ms: null,
  };
}

/** One bounded h2load run (killed if it overruns by 15 s); its CPU time read once reaped. */
function runH2load(url: string, o: { durationS: number; clients: number; streams: number; threads: number }): Promise<LoadResult> {
  const args = ['-D', String(o.durationS), '-c', String(o.clients), '-m', String(o.streams), '-t', String(Math.min(o.threads, o.clients)), '-H', `:authority: ${HOST}`, url];
  return new Promise((resolve, reject) => {
    const before = reapedChildrenCpuTime();
    const child = spawn('h2load', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (out += d));
    const killer = setTimeout(() => child.kill('SIGKILL'), (o.durationS + 15) * 1000);
    child.once('error', (err) => {
      clearTimeout(killer);
      reject(err);
    });
    child.once('close', (code, signal) => {
      clearTimeout(killer);
      if (code !== 0) return reject(new Error(`h2load exited with ${code ?? signal}:\n${out}`));
      try {
        resolve({ ...parseH2load(out), clientCpu: cpuDelta(before, reapedChildrenCpuTime()) });
      } catch (err) {
        reject(err);
      }
    });
  });
}

async function runWrkLoad(url: string, args: LoadArgs, durationS: number): Promise<LoadResult> {
  const { result, wrkCpu } = await runWrk({ url, durationS, connections: args.connections, threads: args.threads, headers: { Host: HOST } });
  const f = figures(result);
  return { durationS: result.durationUs / 1e6, requests: result.requests - result.errors.status, errors: f.errors, meanMs: result.latencyUs.mean / 1000, p99Ms: f.p99Ms, clientCpu: wrkCpu };
}

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

let ticks: number | undefined;
function clockTicks(): number {
  if (ticks === undefined) {
    const n = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout?.trim());
    ticks = Number.isFinite(n) && n > 0 ? n : 100;
  }
  return ticks;
}

// ---- one request first -----------------------------------------------------------------

function expectH1(port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest({ host: '127.0.0.1', port, path: '/', headers: { host: HOST }, rejectUnauthorized: false, timeout: 5000 }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (d: string) => (body += d));
      res.on('end', () => (res.statusCode === 200 && body === ECHO_BODY ? resolve() : reject(new Error(`https http/1.1: expected 200 ${JSON.stringify(ECHO_BODY)}, got ${res.statusCode} ${JSON.stringify(body.slice(0, 200))}`))));
    });
    req.on('timeout', () => req.destroy(new Error('https http/1.1: no answer in 5 s')));
    req.on('error', reject);
    req.end();
  });
}

function expectH2(port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const session = h2connect(`https://127.0.0.1:${port}`, { rejectUnauthorized: false });
    session.on('error', reject);
    const stream = session.request({ ':path': '/', ':authority': HOST });
    let status = 0;
    let body = '';
    stream.on('response', (h) => (status = Number(h[':status'])));
    stream.setEncoding('utf8').on('data', (d: string) => (body += d));
    stream.on('end', () => {
      session.close();
      if (status === 200 && body === ECHO_BODY) resolve();
      else reject(new Error(`h2: expected 200 ${JSON.stringify(ECHO_BODY)}, got ${status} ${JSON.stringify(body.slice(0, 200))}`));
    });
    stream.on('error', reject);
  });
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

const perCore = (r: Run, p = 'gatehouse'): number | null => {
  const c = r.cpu[p];
  return c == null || c.user + c.sys === 0 ? null : r.load.requests / (c.user + c.sys);
};
const usPerReq = (r: Run, p: string): string => {
  const c = r.cpu[p];
  return c == null ? 'n/a' : `${(((c.user + c.sys) * 1e6) / r.load.requests).toFixed(1)} (${c.user + c.sys === 0 ? 0 : Math.round((100 * c.sys) / (c.user + c.sys))}%)`;
};

try {
  const upstream = await startEchoUpstream();
  started.upstreams.push(upstream);
  const gatehouse = (started.gatehouse = await startGatehouse({ host: HOST, upstreamPort: upstream.port, workers: WORKERS }));
  const url = `https://127.0.0.1:${gatehouse.httpsPort}/`;
  await expectH1(gatehouse.httpsPort);
  await expectH2(gatehouse.httpsPort);

  const multiplexedClients = Math.max(1, Math.round(args.connections / STREAMS));
  const targets: { name: string; tool: string; run: (durationS: number) => Promise<LoadResult> }[] = [
    { name: 'https http/1.1', tool: `wrk -c${args.connections}`, run: (d) => runWrkLoad(url, args, d) },
    { name: 'h2', tool: `h2load -c${args.connections} -m1`, run: (d) => runH2load(url, { durationS: d, clients: args.connections, streams: 1, threads: args.threads }) },
    { name: 'h2 multiplexed', tool: `h2load -c${multiplexedClients} -m${STREAMS}`, run: (d) => runH2load(url, { durationS: d, clients: multiplexedClients, streams: STREAMS, threads: args.threads }) },
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
