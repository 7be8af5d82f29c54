// `node loadtest/balancer-bench.ts [--duration S --connections N --threads N --warmup S]`
//
// What each load-balancing algorithm costs: requests/s and Gatehouse CPU µs per request through
// one Gatehouse worker, to one Service of three echo upstreams (three processes), reached through
// four hosts whose Ingresses differ only in how they balance: round robin (no annotation),
// least_request, ewma, and upstream-hash-by. Measured in one run, interleaved (two rounds), under
// the same wrk load; requests/s per Gatehouse core is 10^6 / its µs per request.
// wrk sends one URL from one address, so the hash key ($request_uri) is the same for every
// request and one echo serves them all: the figure is the cost of building the key and finding it
// on the ring, not a spread. See loadtest/README.md.

import { startBench } from './lib/bench-processes.ts';
import { ECHO_BODY, startEchoUpstream } from './lib/echo-upstream.ts';
import { poolService, startGatehouse } from './lib/gatehouse.ts';
import { expectBody } from './lib/http-check.ts';
import { describeMachine } from './lib/machine.ts';
import { measure, warmUp, type Target } from './lib/measure.ts';
import { figuresTable, LEGEND, saveResults, type Measured } from './lib/report.ts';
import { figures } from './lib/wrk.ts';

const UPSTREAMS = 3;

/** The algorithms, by host: [row label, host, annotations]. */
const ALGORITHMS: readonly (readonly [string, string, Readonly<Record<string, string>>])[] = [
  ['round robin', 'rr.local', {}],
  ['least_request', 'p2c.local', { 'nginx.ingress.kubernetes.io/load-balance': 'least_request' }],
  ['ewma', 'ewma.local', { 'nginx.ingress.kubernetes.io/load-balance': 'ewma' }],
  ['hash $request_uri', 'hash.local', { 'nginx.ingress.kubernetes.io/upstream-hash-by': '$request_uri' }],
];

/** A Service `pool` over the echo upstreams (one EndpointSlice per port, every endpoint on 127.0.0.1) and one Ingress per algorithm. */
function poolManifests(ports: readonly number[]): string {
  const ingresses = ALGORITHMS.map(([, host, annotations], i) => `apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: lb-${i}
  namespace: bench
  annotations: ${JSON.stringify(annotations)}
spec:
  ingressClassName: gatehouse
  rules:
    - host: ${host}
      http: {paths: [{path: /, pathType: Prefix, backend: {service: {name: pool, port: {name: http}}}}]}
`);
  return [poolService(ports), ...ingresses].join('---\n');
}

const { args, machine, started } = startBench();
const upstreams = started.upstreams;

try {
  for (let i = 0; i < UPSTREAMS; i++) upstreams.push(await startEchoUpstream());
  const ports = upstreams.map((u) => u.port);
  const gatehouse = (started.gatehouse = await startGatehouse({ host: 'bench.local', upstreamPort: ports[0]!, workers: 1, extraManifests: poolManifests(ports) }));
  const url = `http://127.0.0.1:${gatehouse.httpPort}/`;
  for (const [, host] of ALGORITHMS) await expectBody(url, ECHO_BODY, host);
  const pids: Record<string, number> = { gatehouse: gatehouse.child.pid };
  upstreams.forEach((u, i) => (pids[`upstream ${i + 1}`] = u.child.pid));
  const targets: Target[] = ALGORITHMS.map(([name, host]) => ({ name, url, headers: { Host: host }, pids }));
  const runs: Measured[] = [];
  // Interleaved, two rounds, so drift on a shared machine hits every algorithm alike.
  for (let round = 0; round < 2; round++) {
    for (const t of targets) {
      await warmUp(t, args);
      runs.push({ ...(await measure(t, args)), name: `${t.name} #${round + 1}` });
    }
  }
  await started.stop();

  /** Both rounds of one algorithm: requests/s, Gatehouse µs per request, requests/s per Gatehouse core. */
  const summary = ALGORITHMS.map(([name]) => {
    const mine = runs.filter((r) => r.name.startsWith(`${name} #`));
    const requests = mine.reduce((sum, r) => sum + r.wrk.requests, 0);
    const cpu = mine.reduce((sum, r) => sum + (r.cpu.gatehouse ? r.cpu.gatehouse.user + r.cpu.gatehouse.sys : NaN), 0);
    const rps = mine.reduce((sum, r) => sum + figures(r.wrk).rps, 0) / mine.length;
    const us = (cpu * 1e6) / requests;
    return { name, rps, gatehouseUsPerRequest: us, rpsPerCore: 1e6 / us };
  });
  const out = [
    '',
    `Load balancing, one Gatehouse worker, ${UPSTREAMS} echo upstreams: wrk -t${args.threads} -c${args.connections} -d${args.durationS}s after ${args.warmupS} s warm-up each, GET / (${Buffer.byteLength(ECHO_BODY)}-byte body)`,
    figuresTable(runs, ['gatehouse', ...Array.from({ length: UPSTREAMS }, (_, i) => `upstream ${i + 1}`)]),
    LEGEND,
    '',
    'algorithm            requests/s   Gatehouse µs/req   requests/s per Gatehouse core',
    ...summary.map((s) => `${s.name.padEnd(20)} ${s.rps.toFixed(0).padStart(10)}   ${s.gatehouseUsPerRequest.toFixed(1).padStart(16)}   ${s.rpsPerCore.toFixed(0).padStart(29)}`),
    'hash: one URL from one address, so one upstream takes every request (the key and ring cost, not a spread).',
    describeMachine(machine),
  ];
  if (runs.some((m) => figures(m.wrk).errors > 0)) out.push('WARNING: wrk counted errors (non-2xx/3xx, socket errors or timeouts); the figures include them.');
  process.stdout.write(`${out.join('\n')}\n`);
  const saved = saveResults('-balancer', { kind: 'balancer-bench', machine, load: args, summary, runs: runs.map((m) => ({ ...m, figures: figures(m.wrk) })) });
  process.stdout.write(`results: ${saved}\n`);
} catch (err) {
  await started.stop();
  process.stderr.write(`balancer bench failed: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
}
