// `node loadtest/failover-bench.ts [--duration S --connections N --threads N --warmup S]`
//
// What a dying endpoint costs clients: one Service of three echo upstreams (three processes)
// behind Gatehouse (2 workers); wrk loads it for --duration seconds and, halfway, one upstream is
// killed by its PID. Printed per scenario: requests, errors (non-2xx/3xx and socket errors, as wrk
// counts them) and requests/s, without and with health checks (active: GET / every 1 s, 2 failures
// take it out; passive: 3 failures in a row eject it for 30 s), each with the default retries
// (proxy-next-upstream "error timeout": a GET that finds the endpoint dead goes to another) and
// with retries off (every request sent to the dead endpoint fails until health takes it out).
// Each scenario starts afresh (new upstreams, new Gatehouse). --warmup is not used. See
// loadtest/README.md.

import { startBench } from './lib/bench-processes.ts';
import { ECHO_BODY, startEchoUpstream } from './lib/echo-upstream.ts';
import { poolService, startGatehouse } from './lib/gatehouse.ts';
import { expectBody } from './lib/http-check.ts';
import { describeMachine } from './lib/machine.ts';
import { figures, runWrk } from './lib/wrk.ts';

const UPSTREAMS = 3;
const HOST = 'failover.local';

const HEALTH = {
  'gatehouse.io/health-check-path': '/',
  'gatehouse.io/health-check-interval': '1s',
  'gatehouse.io/health-check-timeout': '500ms',
  'gatehouse.io/health-check-unhealthy-threshold': '2',
  'gatehouse.io/passive-health-consecutive-failures': '3',
  'gatehouse.io/passive-health-base-ejection': '30s',
};
const NO_RETRIES = { 'nginx.ingress.kubernetes.io/proxy-next-upstream': 'off' };

const SCENARIOS: readonly (readonly [string, Readonly<Record<string, string>>])[] = [
  ['retries, no health checks', {}],
  ['retries, health checks', HEALTH],
  ['no retries, no health checks', NO_RETRIES],
  ['no retries, health checks', { ...NO_RETRIES, ...HEALTH }],
];

function poolManifests(ports: readonly number[], annotations: Readonly<Record<string, string>>): string {
  const ing = `apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: failover
  namespace: bench
  annotations: ${JSON.stringify(annotations)}
spec:
  ingressClassName: gatehouse
  rules:
    - host: ${HOST}
      http: {paths: [{path: /, pathType: Prefix, backend: {service: {name: pool, port: {name: http}}}}]}
`;
  return [poolService(ports), ing].join('---\n');
}

const { args, machine, started } = startBench();
const upstreams = started.upstreams;

try {
  const rows: { name: string; requests: number; errors: number; rps: number }[] = [];
  for (const [name, annotations] of SCENARIOS) {
    for (let i = 0; i < UPSTREAMS; i++) upstreams.push(await startEchoUpstream());
    const ports = upstreams.map((u) => u.port);
    const gatehouse = (started.gatehouse = await startGatehouse({ host: 'bench.local', upstreamPort: ports[0]!, workers: 2, extraManifests: poolManifests(ports, annotations) }));
    const url = `http://127.0.0.1:${gatehouse.httpPort}/`;
    await expectBody(url, ECHO_BODY, HOST);
    const load = runWrk({ url, durationS: args.durationS, connections: args.connections, threads: args.threads, headers: { Host: HOST } });
    // Halfway: the first upstream dies (SIGTERM by its PID; it exits at once, cutting its connections).
    await new Promise((r) => setTimeout(r, (args.durationS * 1000) / 2));
    await upstreams[0]!.child.stop();
    const { result } = await load;
    const f = figures(result);
    rows.push({ name, requests: result.requests, errors: f.errors, rps: f.rps });
    await started.stop();
  }
  const out = [
    '',
    `Failover: ${UPSTREAMS} echo upstreams behind one Service, Gatehouse with 2 workers; wrk -t${args.threads} -c${args.connections} -d${args.durationS}s, GET /; upstream 1 killed at ${args.durationS / 2} s`,
    'scenario                          requests     errors   requests/s',
    ...rows.map((r) => `${r.name.padEnd(32)} ${String(r.requests).padStart(9)} ${String(r.errors).padStart(10)} ${r.rps.toFixed(0).padStart(12)}`),
    'errors: responses not 2xx/3xx and socket errors, as wrk counts them.',
    describeMachine(machine),
  ];
  process.stdout.write(`${out.join('\n')}\n`);
} catch (err) {
  await started.stop();
  process.stderr.write(`failover bench failed: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
}
