// Many hosts at once: requests spread evenly over HOSTS host names through one Gatehouse address,
// as a cluster with many Ingresses sees them (every host's router, TLS context and endpoints in
// use, not one hot path):
//
//   k6 run -e TARGET=http://<gatehouse-service-ip>/ -e HOST_PATTERN=app-%d.example.com -e HOSTS=1000 loadtest/k6/many-hosts.ts
//
// HOST_PATTERN's `%d` becomes 0 … HOSTS-1; create the Ingresses to match (one host each, any
// backend that answers 2xx on TARGET's path). With an https TARGET, k6 sends each host as SNI
// only if TARGET names it, so use http, or one TLS host per run. Open model, as smoke.ts: RATE
// iterations per second whatever the latency. Fails when more than 1% of requests fail or p99
// exceeds P99_MS.
//
// Environment (k6 -e NAME=value):
//   TARGET        URL to request, required
//   HOST_PATTERN  Host header pattern with one `%d` (default app-%d.example.com)
//   HOSTS         how many hosts (default 100)
//   RATE          requests per second (default 500);  DURATION  how long (default 2m)
//   P99_MS        p99 latency threshold in ms (default 500);  MAX_VUS  (default 300)

import { check } from 'k6';
import exec from 'k6/execution';
import http from 'k6/http';
import type { Options } from 'k6/options';
import { env, positive } from './env.ts';

const TARGET = env('TARGET');
const PATTERN = env('HOST_PATTERN', 'app-%d.example.com');
const HOSTS = Math.floor(positive('HOSTS', '100'));
const RATE = positive('RATE', '500');
const DURATION = env('DURATION', '2m');
const P99_MS = positive('P99_MS', '500');
const MAX_VUS = positive('MAX_VUS', '300');
if (!PATTERN.includes('%d')) throw new Error(`HOST_PATTERN: expected one %d, got ${JSON.stringify(PATTERN)}`);

export const options: Options = {
  scenarios: {
    spread: {
      executor: 'constant-arrival-rate',
      rate: RATE,
      timeUnit: '1s',
      duration: DURATION,
      preAllocatedVUs: Math.min(MAX_VUS, Math.max(10, Math.ceil(RATE / 10))),
      maxVUs: MAX_VUS,
    },
  },
  thresholds: {
    http_req_failed: [{ threshold: 'rate<0.01', abortOnFail: true, delayAbortEval: '10s' }],
    http_req_duration: [`p(99)<${P99_MS}`],
    checks: ['rate>0.99'],
  },
  summaryTrendStats: ['avg', 'min', 'med', 'p(90)', 'p(99)', 'max'],
};

export default function (): void {
  // Round robin over the hosts by iteration number: every host gets its share, in order.
  const host = PATTERN.replace('%d', String(exec.scenario.iterationInTest % HOSTS));
  const res = http.get(TARGET, { headers: { Host: host }, tags: { name: 'many-hosts' }, timeout: '10s' });
  check(res, { 'status is 2xx/3xx': (r) => r.status >= 200 && r.status < 400 });
}
