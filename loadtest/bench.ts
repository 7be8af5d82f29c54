// `npm run bench [-- --duration S --connections N --threads N --warmup S --profile]`
//
// Requests/s and latency of the echo upstream measured directly and through Gatehouse
// (`--workers 1`, local mode, one Ingress host → that upstream), with the same wrk load.
// The ratio (via Gatehouse / direct requests/s) is the proxy's cost on this machine. Also
// prints the CPU µs each process spent per request, since on a small machine wrk, the
// upstream and Gatehouse share the cores. Results go to loadtest/results/<timestamp>.json.
// See loadtest/README.md.

import { mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { startBench } from './lib/bench-processes.ts';
import { describeProfile, summariseProfile, type ProfileSummary } from './lib/cpuprofile.ts';
import { ECHO_BODY, startEchoUpstream } from './lib/echo-upstream.ts';
import { startGatehouse } from './lib/gatehouse.ts';
import { expectBody } from './lib/http-check.ts';
import { describeMachine } from './lib/machine.ts';
import { measure, warmUp, type Target } from './lib/measure.ts';
import { figuresTable, LEGEND, ratio, RESULTS_DIR, saveResults, type Measured } from './lib/report.ts';
import { figures } from './lib/wrk.ts';

const HOST = 'bench.local';
const WORKERS = 1;

const { args, machine, started } = startBench(true);

try {
  const upstream = await startEchoUpstream();
  started.upstreams.push(upstream);
  const profileDir = args.profile ? join(RESULTS_DIR, `profile-${new Date().toISOString().replace(/[:.]/g, '-')}`) : null;
  if (profileDir !== null) mkdirSync(profileDir, { recursive: true });
  const gatehouse = (started.gatehouse = await startGatehouse({
    host: HOST,
    upstreamPort: upstream.port,
    workers: WORKERS,
    execArgv: profileDir === null ? [] : ['--cpu-prof', '--cpu-prof-dir', profileDir],
  }));
  const gatehouseUrl = `http://127.0.0.1:${gatehouse.httpPort}/`;
  await expectBody(upstream.url, ECHO_BODY);
  await expectBody(gatehouseUrl, ECHO_BODY, HOST);

  const direct: Target = { name: 'direct', url: upstream.url, pids: { upstream: upstream.child.pid } };
  const via: Target = { name: 'via gatehouse', url: gatehouseUrl, headers: { Host: HOST }, pids: { gatehouse: gatehouse.child.pid, upstream: upstream.child.pid } };
  // Each target is warmed up right before it is measured (as in proxy-compare.ts).
  await warmUp(direct, args);
  const d: Measured = await measure(direct, args);
  await warmUp(via, args);
  const g: Measured = await measure(via, args);
  const runs = [d, g];

  await gatehouse.stop();
  let profiles: ProfileSummary[] = [];
  if (profileDir !== null) {
    // One file per thread: the main thread (control plane) and each worker (data plane).
    profiles = readdirSync(profileDir).filter((f) => f.endsWith('.cpuprofile')).sort().map((f) => summariseProfile(join(profileDir, f)));
  }
  await started.stop();

  const r = ratio(g, d);
  const out = [
    '',
    `Gatehouse (--workers ${WORKERS}) vs direct: wrk -t${args.threads} -c${args.connections} -d${args.durationS}s after ${args.warmupS} s warm-up each, GET / (${Buffer.byteLength(ECHO_BODY)}-byte body)`,
    figuresTable(runs, ['gatehouse', 'upstream', 'wrk']),
    LEGEND,
    '',
    `ratio (gatehouse / direct requests/s): ${r.toFixed(3)}`,
    describeMachine(machine),
  ];
  if (figures(d.wrk).errors + figures(g.wrk).errors > 0) out.push('WARNING: wrk counted errors (non-2xx/3xx, socket errors or timeouts); the figures include them.');
  for (const p of profiles) out.push('', describeProfile(p));
  process.stdout.write(`${out.join('\n')}\n`);
  const saved = saveResults('', { kind: 'bench', machine, load: args, host: HOST, workers: WORKERS, ratio: r, runs: runs.map((m) => ({ ...m, figures: figures(m.wrk) })), profiles });
  process.stdout.write(`results: ${saved}\n`);
} catch (err) {
  await started.stop();
  process.stderr.write(`bench failed: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
}
