// `npm run bench [-- --duration S --connections N --threads N --warmup S --profile]`
//
// Gatehouse (`--workers 1`, local mode, one Ingress host → the echo upstream) against nginx
// (Debian's, one process, generated configuration: the same reverse proxy with upstream keep-alive,
// both writing a JSON access-log line per request to a file, as both do by default) in front of
// the same echo upstream, the same self-signed certificate, in one interleaved run
// (each scenario: Gatehouse, then nginx). With taskset and 2+ CPUs, both proxies run on CPU 0 and
// the load generator (wrk, h2load), the upstream and this runner on CPU 1. Scenarios:
//
//   http/1.1 keep-alive      wrk, --connections kept-alive connections (and the upstream direct, for scale)
//   http/1.1 close           wrk with `Connection: close`: a new TCP connection per request
//   h2 over TLS              h2load, --connections h2 connections, one stream in flight on each
//   new TLS connections      wrk over https with `Connection: close`: one full handshake per request
//                            (no session cache or tickets on nginx; wrk never offers a session)
//   http/1.1 at half nginx   wrk paced (its Lua delay()) so that nginx runs at about half of its
//                            keep-alive maximum, the same load on both: the p99 target
//
// For each: requests/s, requests/s per proxy core (requests ÷ proxy CPU-seconds from /proc),
// p50, p99, errors, and the ratio Gatehouse / nginx. Installs nothing: a missing tool is named
// with its apt-get line and its scenarios skipped. Results go to loadtest/results/<timestamp>.json.
// See loadtest/README.md.

import { mkdirSync, readdirSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { parseLoadArgs, type LoadArgs } from './lib/args.ts';
import { BenchProcesses } from './lib/bench-processes.ts';
import { measureCpu, type CpuTime, type MachineCpu } from './lib/cpu.ts';
import { describeProfile, summariseProfile, type ProfileSummary } from './lib/cpuprofile.ts';
import { ECHO_BODY, startEchoUpstream } from './lib/echo-upstream.ts';
import { startGatehouse } from './lib/gatehouse.ts';
import { H2LOAD_MISSING, h2loadVersion, runH2load } from './lib/h2load.ts';
import { expectBody, expectH2Body, expectHttpsBody } from './lib/http-check.ts';
import { describeMachine, machineInfo } from './lib/machine.ts';
import { NGINX_MISSING, nginxVersion, startNginx } from './lib/nginx.ts';
import { hasTaskset, pin, TASKSET_MISSING } from './lib/pin.ts';
import { otherLoadOf, requestsPerCore, RESULTS_DIR, saveResults, table, usPerRequest } from './lib/report.ts';
import { runWrkLoad, wrkVersion, type LoadResult, type WrkLoad } from './lib/wrk.ts';
import { generateSelfSigned } from '../src/control/tls/self-signed.ts';

const HOST = 'bench.local';
const WORKERS = 1;
const PROXY_CPU = 0;
const CLIENT_CPU = 1;
/** The paced run's pause per connection after each answer (wrk's delay() has ms resolution). */
const PACE_DELAY_MS = 1;
/** Seconds of each of the two calibration runs of the paced load (against nginx). */
const CALIBRATE_S = 3;

interface Proxy {
  name: 'gatehouse' | 'nginx' | 'direct';
  pid: number | null;
  httpUrl: string;
  httpsUrl: string | null;
}

interface Scenario {
  key: string;
  name: string;
  tool: string;
  /** Which proxies it measures (direct only for keep-alive). */
  proxies: readonly Proxy['name'][];
  run(p: Proxy, durationS: number): Promise<LoadResult>;
}

interface Run {
  scenario: string;
  proxy: Proxy['name'];
  tool: string;
  load: LoadResult;
  /** CPU time over the measured run: proxy, upstream, client (the load generator). */
  cpu: Record<string, CpuTime | null>;
  machine: MachineCpu | null;
  /** How long the proxy took to answer one request of the scenario after its warm-up ended. */
  waitedMs: number;
}

const args: LoadArgs = parseLoadArgs(process.argv.slice(2), true);

// ---- what is installed: say what is missing, skip its part ---------------------------------

const wrk = wrkVersion();
const h2load = h2loadVersion();
const nginx = nginxVersion();
const canPin = hasTaskset() && availableParallelism() >= 2;
const missing: string[] = [];
if (wrk === null) missing.push('wrk is not installed (not found on PATH): the wrk scenarios are skipped.\n  Debian/Ubuntu: apt-get update && apt-get install -y wrk\n');
if (h2load === null) missing.push(`${H2LOAD_MISSING.trimEnd()}\n  the h2 scenario is skipped.\n`);
if (nginx === null) missing.push(`${NGINX_MISSING.trimEnd()}\n  Gatehouse is measured alone, without ratios.\n`);
if (!hasTaskset()) missing.push(TASKSET_MISSING);
else if (!canPin) missing.push(`one CPU only: nothing is pinned, the proxies share it with the load generator.\n`);
for (const m of missing) process.stderr.write(`bench: ${m}`);
if (wrk === null && h2load === null) {
  process.stderr.write('bench: neither wrk nor h2load is installed: nothing to measure.\n');
  process.exit(1);
}

const machine = machineInfo(wrk ?? 'wrk: not installed');
const started = new BenchProcesses();

/** The paced load's connections, once calibrated against nginx; null before (or when skipped). */
let paced: { connections: number; targetRps: number } | null = null;

function wrkLoad(url: string, durationS: number, extra: Partial<WrkLoad> = {}): Promise<LoadResult> {
  return runWrkLoad({ url, durationS, connections: args.connections, threads: args.threads, ...extra, headers: { Host: HOST, ...extra.headers } });
}

const BOTH = ['gatehouse', 'nginx'] as const;
const scenarios: Scenario[] = [];
if (wrk !== null) {
  scenarios.push(
    { key: 'keepAlive', name: 'http/1.1 keep-alive', tool: `wrk -c${args.connections}`, proxies: ['direct', ...BOTH], run: (p, d) => wrkLoad(p.httpUrl, d) },
    { key: 'close', name: 'http/1.1 close', tool: `wrk -c${args.connections} Connection: close`, proxies: BOTH, run: (p, d) => wrkLoad(p.httpUrl, d, { headers: { Connection: 'close' } }) },
  );
}
if (h2load !== null) {
  scenarios.push({ key: 'h2', name: 'h2 over TLS', tool: `h2load -c${args.connections} -m1`, proxies: BOTH, run: (p, d) => runH2load({ url: p.httpsUrl!, host: HOST, durationS: d, clients: args.connections, streams: 1, threads: args.threads, percentiles: true }) });
}
if (wrk !== null) {
  scenarios.push({ key: 'tlsHandshakes', name: 'new TLS connections', tool: `wrk -c${args.connections} https Connection: close`, proxies: BOTH, run: (p, d) => wrkLoad(p.httpsUrl!, d, { headers: { Connection: 'close' } }) });
  if (nginx !== null) {
    scenarios.push({
      key: 'halfLoad',
      name: 'http/1.1 at half nginx',
      tool: `wrk paced (delay ${PACE_DELAY_MS} ms)`,
      proxies: BOTH,
      run: (p, d) => wrkLoad(p.httpUrl, d, { connections: paced!.connections, threads: Math.min(args.threads, paced!.connections), delayMs: PACE_DELAY_MS }),
    });
  }
}

/**
 * Connections of the paced load so that nginx answers about `targetRps`: a first guess from
 * nginx's keep-alive latency, then two short runs against nginx, each correcting the count by the
 * rate it reached (the rate grows about linearly with connections while nginx is not saturated).
 */
async function calibrate(nginxProxy: Proxy, targetRps: number, keepAliveP50Ms: number): Promise<number> {
  let connections = Math.max(1, Math.min(1000, Math.round((targetRps * (PACE_DELAY_MS + keepAliveP50Ms / 2)) / 1000)));
  for (let i = 0; i < 2; i++) {
    process.stderr.write(`calibrate: paced load on nginx, ${connections} connections, ${CALIBRATE_S} s (target ${targetRps.toFixed(0)} requests/s)\n`);
    const r = await wrkLoad(nginxProxy.httpUrl, CALIBRATE_S, { connections, threads: Math.min(args.threads, connections), delayMs: PACE_DELAY_MS });
    const rps = r.requests / r.durationS;
    connections = Math.max(1, Math.min(1000, Math.round((connections * targetRps) / rps)));
  }
  return connections;
}

/** What one request of scenario `key` is, to check that `p` answers it. */
function probe(p: Proxy, key: string): Promise<unknown> {
  if (p.httpsUrl === null || !(key === 'h2' || key === 'tlsHandshakes')) return expectBody(p.httpUrl, ECHO_BODY, p.name === 'direct' ? undefined : HOST);
  const port = Number(new URL(p.httpsUrl).port);
  return key === 'h2' ? expectH2Body(port, ECHO_BODY, HOST) : expectHttpsBody(port, ECHO_BODY, HOST);
}

/**
 * Waits until `p` answers one request of the scenario (up to 20 s) and returns how long that took:
 * a proxy that stalls after the previous load ended would otherwise be measured while stalled.
 */
async function untilAnswers(p: Proxy, key: string): Promise<number> {
  const t0 = performance.now();
  for (;;) {
    try {
      await probe(p, key);
      return performance.now() - t0;
    } catch (err) {
      if (performance.now() - t0 > 20_000) throw new Error(`${p.name} has not answered a ${key} request for 20 s: ${(err as Error).message}`, { cause: err });
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

const perCore = (r: Run | undefined): number | null => (r === undefined ? null : requestsPerCore(r.load.requests, r.cpu.proxy));
/** The proxy used under half a CPU-second: its per-core figure rests on few /proc clock ticks (10 ms each). */
const coarse = (r: Run | undefined): boolean => r?.cpu.proxy != null && r.cpu.proxy.user + r.cpu.proxy.sys < 0.5;
const rps = (r: Run): number => r.load.requests / r.load.durationS;
const ms = (n: number | null): string => (n === null ? '-' : n.toFixed(2));
const k = (n: number | null): string => (n === null ? 'n/a' : `${(n / 1000).toFixed(1)}k`);
const div = (a: number | null | undefined, b: number | null | undefined): number | null => (a == null || b == null || b === 0 ? null : a / b);

try {
  const upstream = await startEchoUpstream();
  started.upstreams.push(upstream);
  const tls = await generateSelfSigned({ commonName: HOST });
  const secret = `apiVersion: v1
kind: Secret
metadata: {name: bench-tls, namespace: bench}
type: kubernetes.io/tls
data:
  tls.crt: ${Buffer.from(tls.cert).toString('base64')}
  tls.key: ${Buffer.from(tls.key).toString('base64')}
`;
  const profileDir = args.profile ? join(RESULTS_DIR, `profile-${new Date().toISOString().replace(/[:.]/g, '-')}`) : null;
  if (profileDir !== null) mkdirSync(profileDir, { recursive: true });
  const gatehouse = (started.gatehouse = await startGatehouse({
    host: HOST,
    upstreamPort: upstream.port,
    workers: WORKERS,
    extraManifests: secret,
    args: ['--default-ssl-certificate', 'bench/bench-tls'],
    // Each request logged to a file, as nginx does here (both proxies' default is to log).
    accessLogFile: true,
    execArgv: profileDir === null ? [] : ['--cpu-prof', '--cpu-prof-dir', profileDir],
  }));
  const proxies: Proxy[] = [
    { name: 'direct', pid: null, httpUrl: upstream.url, httpsUrl: null },
    { name: 'gatehouse', pid: gatehouse.child.pid, httpUrl: `http://127.0.0.1:${gatehouse.httpPort}/`, httpsUrl: `https://127.0.0.1:${gatehouse.httpsPort}/` },
  ];
  if (nginx !== null) {
    const n = await startNginx({ host: HOST, upstreamPort: upstream.port, cert: tls.cert, key: tls.key });
    started.others.push(n);
    proxies.push({ name: 'nginx', pid: n.child.pid, httpUrl: `http://127.0.0.1:${n.httpPort}/`, httpsUrl: `https://127.0.0.1:${n.httpsPort}/` });
  }

  // Pinned once all are started (startup uses both CPUs): this runner (so wrk and h2load, which it
  // starts from now on) and the upstream on one CPU, the proxies on the other.
  if (canPin) {
    for (const pid of [process.pid, upstream.child.pid]) pin(pid, CLIENT_CPU);
    for (const p of proxies) if (p.pid !== null) pin(p.pid, PROXY_CPU);
  }

  // One request each way first, so that a run never measures 404s, and the same certificate.
  await expectBody(upstream.url, ECHO_BODY);
  const fingerprints = new Set<string>();
  for (const p of proxies.filter((x) => x.name !== 'direct')) {
    await expectBody(p.httpUrl, ECHO_BODY, HOST);
    fingerprints.add(await expectHttpsBody(Number(new URL(p.httpsUrl!).port), ECHO_BODY, HOST));
    await expectH2Body(Number(new URL(p.httpsUrl!).port), ECHO_BODY, HOST);
  }
  if (fingerprints.size !== 1) throw new Error('Gatehouse and nginx serve different certificates');

  const runs: Run[] = [];
  /** Runs that failed (a tool that exited non-zero or overran): printed, and the run goes on. */
  const failures: { scenario: string; proxy: string; error: string }[] = [];
  for (const s of scenarios) {
    for (const p of proxies.filter((x) => s.proxies.includes(x.name))) {
      try {
        if (s.key === 'halfLoad' && paced === null) {
          const nginxMax = runs.find((r) => r.scenario === 'keepAlive' && r.proxy === 'nginx');
          if (nginxMax === undefined) throw new Error("no measure of nginx's keep-alive maximum to take half of");
          const target = rps(nginxMax) / 2;
          paced = { targetRps: target, connections: await calibrate(proxies.find((x) => x.name === 'nginx')!, target, nginxMax.load.p50Ms ?? 1) };
        }
        if (args.warmupS > 0) {
          await untilAnswers(p, s.key);
          process.stderr.write(`warm-up: ${s.name}, ${p.name}, ${args.warmupS} s\n`);
          await s.run(p, args.warmupS);
        }
        const waitedMs = await untilAnswers(p, s.key);
        if (waitedMs > 500) process.stderr.write(`${p.name} answered a ${s.name} request only after ${(waitedMs / 1000).toFixed(1)} s\n`);
        process.stderr.write(`measure: ${s.name}, ${p.name} (${s.tool}), ${args.durationS} s\n`);
        const pids: Record<string, number> = { upstream: upstream.child.pid };
        if (p.pid !== null) pids.proxy = p.pid;
        const { value, cpu, machine: m } = await measureCpu(pids, () => s.run(p, args.durationS));
        runs.push({ scenario: s.key, proxy: p.name, tool: s.key === 'halfLoad' ? `${s.tool} -c${paced!.connections}` : s.tool, load: value, cpu: { ...cpu, client: value.clientCpu }, machine: m, waitedMs });
      } catch (err) {
        const error = (err as Error).message.split('\n')[0]!;
        process.stderr.write(`failed: ${s.name}, ${p.name}: ${error}\n`);
        failures.push({ scenario: s.key, proxy: p.name, error });
      }
    }
  }

  await started.stop();
  let profiles: ProfileSummary[] = [];
  if (profileDir !== null) {
    // One file per thread: the main thread (control plane) and each worker (data plane).
    profiles = readdirSync(profileDir).filter((f) => f.endsWith('.cpuprofile')).sort().map((f) => summariseProfile(join(profileDir, f)));
  }

  const name = (key: string) => scenarios.find((s) => s.key === key)!.name;
  const header = ['scenario', 'proxy', 'tool', 'requests/s', 'req/s per proxy core', 'p50 ms', 'p99 ms', 'errors', 'proxy µs/req', 'upstream µs/req', 'client µs/req', 'other load'];
  const rows = runs.map((r) => [
    name(r.scenario),
    r.proxy,
    r.tool,
    rps(r).toFixed(0),
    ((c) => (c === null ? '-' : `${c.toFixed(0)}${coarse(r) ? '*' : ''}`))(perCore(r)),
    ms(r.load.p50Ms),
    ms(r.load.p99Ms),
    String(r.load.errors),
    usPerRequest(r.load.requests, r.cpu.proxy),
    usPerRequest(r.load.requests, r.cpu.upstream),
    usPerRequest(r.load.requests, r.cpu.client),
    ((o) => (o === null ? 'n/a' : o.toFixed(2)))(otherLoadOf(r.cpu, r.machine, r.load.durationS)),
  ]);
  const get = (scenario: string, proxy: string) => runs.find((r) => r.scenario === scenario && r.proxy === proxy);
  const summaryKeys = ['keepAlive', 'close', 'h2', 'tlsHandshakes'].filter((key) => scenarios.some((s) => s.key === key));
  const ratios: Record<string, { requestsPerSecond: number | null; perCore: number | null; p99: number | null }> = {};
  for (const key of [...summaryKeys, 'halfLoad']) {
    const g = get(key, 'gatehouse');
    const n = get(key, 'nginx');
    if (g === undefined || n === undefined) continue;
    ratios[key] = { requestsPerSecond: div(rps(g), rps(n)), perCore: div(perCore(g), perCore(n)), p99: div(g.load.p99Ms, n.load.p99Ms) };
  }
  const summary = table([
    ['requests/s per proxy core', ...summaryKeys.map(name)],
    ...(nginx === null ? [] : [[`${nginx.replace(/^nginx version: /, '')}, 1 worker`, ...summaryKeys.map((key) => `${k(perCore(get(key, 'nginx')))}${coarse(get(key, 'nginx')) ? '*' : ''}`)]]),
    [`Gatehouse, ${WORKERS} worker`, ...summaryKeys.map((key) => `${k(perCore(get(key, 'gatehouse')))}${coarse(get(key, 'gatehouse')) ? '*' : ''}${ratios[key]?.perCore == null ? '' : ` (${ratios[key].perCore.toFixed(2)} × nginx)`}`)],
  ]);
  const out = [
    '',
    `Gatehouse (--workers ${WORKERS}) vs ${nginx ?? 'nginx (not installed)'}, ${args.connections} connections, ${args.durationS} s each after ${args.warmupS} s warm-up, GET / (${Buffer.byteLength(ECHO_BODY)}-byte body) → node:http echo upstream`,
    canPin ? `pinned: proxies on CPU ${PROXY_CPU}; load generator, upstream and this runner on CPU ${CLIENT_CPU} (taskset)` : 'not pinned (taskset missing or one CPU)',
    table([header, ...rows]),
    'req/s per proxy core: requests ÷ the proxy process\'s CPU-seconds (/proc), the rate one core of it sustains. µs/req: CPU time per request, (n%) the share in system calls.',
    'client: wrk or h2load. other load: CPU-seconds per second used by other programs (and softirq) during the run; above ~0.1 the figures competed with them.',
    '*: the proxy used under half a CPU-second in the run (the client or other load was the limit): a per-core figure from few clock ticks, not to be trusted.',
    'p50/p99: wrk\'s HdrHistogram; h2load\'s per-request log. wrk and h2load are closed loops: latencies at saturation except in the paced run.',
    '',
    summary,
  ];
  if (ratios.halfLoad !== undefined && paced !== null) {
    const g = get('halfLoad', 'gatehouse')!;
    const n = get('halfLoad', 'nginx')!;
    out.push(
      '',
      `p99 at half of nginx's keep-alive maximum (${paced.targetRps.toFixed(0)} requests/s offered by wrk -c${paced.connections}, each connection pausing ${PACE_DELAY_MS} ms after each answer):`,
      `  nginx ${ms(n.load.p99Ms)} ms at ${rps(n).toFixed(0)} requests/s, Gatehouse ${ms(g.load.p99Ms)} ms at ${rps(g).toFixed(0)} requests/s: ratio ${ratios.halfLoad.p99?.toFixed(2) ?? 'n/a'} (target ≤ 2)${rps(g) < 0.9 * rps(n) ? ' — Gatehouse could not keep up with that load: its p99 is a saturated one' : ''}`,
    );
  }
  for (const f of failures) out.push(`FAILED: ${name(f.scenario)}, ${f.proxy}: ${f.error}`);
  const stalls = runs.filter((r) => r.waitedMs > 500);
  if (stalls.length > 0) {
    out.push('', `stalls: after its warm-up load ended, ${stalls.map((r) => `${r.proxy} answered its first ${name(r.scenario)} request only after ${(r.waitedMs / 1000).toFixed(1)} s`).join('; ')} (measured once it answered)`);
  }
  out.push('', describeMachine(machine), ...[h2load, nginx].filter((v): v is string => v !== null));
  if (runs.some((r) => r.load.errors > 0)) out.push('WARNING: errors were counted (non-2xx/3xx, socket errors or timeouts); the figures include them.');
  for (const p of profiles) out.push('', describeProfile(p));
  process.stdout.write(`${out.join('\n')}\n`);
  const saved = saveResults('', {
    kind: 'bench',
    machine,
    load: args,
    host: HOST,
    workers: WORKERS,
    tools: { wrk, h2load, nginx },
    pinned: canPin ? { proxy: PROXY_CPU, client: CLIENT_CPU } : null,
    paced,
    ratios,
    failures,
    runs: runs.map((r) => ({ ...r, requestsPerSecond: rps(r), requestsPerProxyCore: perCore(r), otherLoad: otherLoadOf(r.cpu, r.machine, r.load.durationS) })),
    profiles,
  });
  process.stdout.write(`results: ${saved}\n`);
} catch (err) {
  await started.stop();
  process.stderr.write(`bench failed: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
}
