// `node loadtest/policies-bench.ts [--duration S --connections N --threads N --warmup S]`
//
// What the request pipeline's policies cost: requests/s and CPU µs per request through one
// Gatehouse worker for a route with no policy and, on another host to the same upstream, a
// route with rewrite-target + CORS + a rate limit (set far above the load, so every request
// runs the limiter and none is refused). Both measured in one run, interleaved, with the same
// wrk load; the ratio is the policies' cost on this machine. See loadtest/README.md.

import { startBench } from './lib/bench-processes.ts';
import { ECHO_BODY, startEchoUpstream } from './lib/echo-upstream.ts';
import { startGatehouse } from './lib/gatehouse.ts';
import { expectBody } from './lib/http-check.ts';
import { describeMachine } from './lib/machine.ts';
import { measure, warmUp, type Target } from './lib/measure.ts';
import { figuresTable, LEGEND, saveResults, type Measured } from './lib/report.ts';
import { figures } from './lib/wrk.ts';

const PLAIN = 'bench.local';
const POLICIES = 'policies.local';

/** The same Service as the bench Ingress, reached through a host whose Ingress carries policies. */
const POLICY_INGRESS = `apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: policies
  namespace: bench
  annotations:
    nginx.ingress.kubernetes.io/use-regex: "true"
    nginx.ingress.kubernetes.io/rewrite-target: /$1
    nginx.ingress.kubernetes.io/enable-cors: "true"
    nginx.ingress.kubernetes.io/limit-rps: "1000000"
spec:
  ingressClassName: gatehouse
  rules:
    - host: ${POLICIES}
      http:
        paths:
          - path: /(.*)
            pathType: ImplementationSpecific
            backend: {service: {name: echo, port: {name: http}}}
`;

const { args, machine, started } = startBench();

try {
  const upstream = await startEchoUpstream();
  started.upstreams.push(upstream);
  const gatehouse = (started.gatehouse = await startGatehouse({ host: PLAIN, upstreamPort: upstream.port, workers: 1, extraManifests: POLICY_INGRESS }));
  const url = `http://127.0.0.1:${gatehouse.httpPort}/`;
  await expectBody(url, ECHO_BODY, PLAIN);
  await expectBody(url, ECHO_BODY, POLICIES);
  const pids = { gatehouse: gatehouse.child.pid, upstream: upstream.child.pid };
  const plain: Target = { name: 'no policy', url, headers: { Host: PLAIN }, pids };
  const withPolicies: Target = { name: 'rewrite+cors+limit', url, headers: { Host: POLICIES, Origin: 'https://app.example.com' }, pids };
  const runs: Measured[] = [];
  // Interleaved: plain, policies, plain, policies, so drift on a shared machine hits both.
  for (let round = 0; round < 2; round++) {
    for (const t of [plain, withPolicies]) {
      await warmUp(t, args);
      runs.push({ ...(await measure(t, args)), name: `${t.name} #${round + 1}` });
    }
  }
  await started.stop();

  const rps = (prefix: string) => runs.filter((r) => r.name.startsWith(prefix)).reduce((sum, r) => sum + figures(r.wrk).rps, 0);
  const r = rps('rewrite') / rps('no policy');
  const out = [
    '',
    `Policy cost, one Gatehouse worker: wrk -t${args.threads} -c${args.connections} -d${args.durationS}s after ${args.warmupS} s warm-up each, GET / (${Buffer.byteLength(ECHO_BODY)}-byte body)`,
    figuresTable(runs, ['gatehouse', 'upstream', 'wrk']),
    LEGEND,
    '',
    `ratio (rewrite+cors+limit / no policy requests/s, both rounds): ${r.toFixed(3)}`,
    describeMachine(machine),
  ];
  if (runs.some((m) => figures(m.wrk).errors > 0)) out.push('WARNING: wrk counted errors (non-2xx/3xx, socket errors or timeouts); the figures include them.');
  process.stdout.write(`${out.join('\n')}\n`);
  const saved = saveResults('-policies', { kind: 'policies-bench', machine, load: args, ratio: r, runs: runs.map((m) => ({ ...m, figures: figures(m.wrk) })) });
  process.stdout.write(`results: ${saved}\n`);
} catch (err) {
  await started.stop();
  process.stderr.write(`policies bench failed: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
}
