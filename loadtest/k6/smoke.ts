// A k6 smoke/load test for a Gatehouse deployment, run from inside or next to the cluster:
//
//   k6 run -e TARGET=http://<gatehouse-service-ip>/ -e HOST=app.example.com loadtest/k6/smoke.ts
//
// An open model (ramping-arrival-rate): k6 starts RATE iterations per second whatever the
// latency, so a slow proxy shows up as latency and dropped iterations, not as a politely lower
// request rate (wrk's closed model). Ramps 0 → RATE over RAMP, holds for HOLD, ramps down.
// Fails (exit 99) when more than 1% of requests fail or p99 exceeds P99_MS.
//
// Environment (k6 -e NAME=value):
//   TARGET   URL to request, required (e.g. http://10.0.0.10/ or https://lb.example.com/path)
//   HOST     Host header to send (the Ingress rule's host); default: the one in TARGET
//   RATE     peak requests per second (default 200)
//   RAMP     ramp-up duration (default 30s);  HOLD  time at peak (default 1m)
//   P99_MS   p99 latency threshold in ms (default 500)
//   MAX_VUS  ceiling on virtual users k6 may allocate to keep the rate (default 200)
//   INSECURE "true" to skip TLS verification (self-signed default certificate)
//
// Type-checked with @types/k6 (`npx tsc --noEmit`); k6 ≥ 0.57 runs TypeScript directly.

import { check } from 'k6';
import http, { type Params } from 'k6/http';
import type { Options } from 'k6/options';
import { env, positive } from './env.ts';

const TARGET = env('TARGET');
const HOST = env('HOST', '');
const RATE = positive('RATE', '200');
const RAMP = env('RAMP', '30s');
const HOLD = env('HOLD', '1m');
const P99_MS = positive('P99_MS', '500');
const MAX_VUS = positive('MAX_VUS', '200');

export const options: Options = {
  insecureSkipTLSVerify: env('INSECURE', 'false') === 'true',
  scenarios: {
    ramp: {
      executor: 'ramping-arrival-rate',
      startRate: 0,
      timeUnit: '1s',
      preAllocatedVUs: Math.min(MAX_VUS, Math.max(10, Math.ceil(RATE / 10))),
      maxVUs: MAX_VUS,
      stages: [
        { target: RATE, duration: RAMP },
        { target: RATE, duration: HOLD },
        { target: 0, duration: '10s' },
      ],
    },
  },
  thresholds: {
    // abortOnFail stops a run that is clearly failing instead of hammering a broken backend.
    http_req_failed: [{ threshold: 'rate<0.01', abortOnFail: true, delayAbortEval: '10s' }],
    http_req_duration: [`p(99)<${P99_MS}`],
    checks: ['rate>0.99'],
  },
  summaryTrendStats: ['avg', 'min', 'med', 'p(90)', 'p(99)', 'max'],
};

// k6 sends a Host header given here instead of the URL's host (how one reaches an Ingress
// rule through the load balancer's address).
const params: Params = { headers: HOST === '' ? {} : { Host: HOST }, tags: { name: 'target' }, timeout: '10s' };

export default function (): void {
  const res = http.get(TARGET, params);
  check(res, {
    'status is 2xx/3xx': (r) => r.status >= 200 && r.status < 400,
  });
}
