// Change churn under load: one scenario keeps RATE requests per second on an Ingress while
// another changes that Ingress through the Kubernetes API every CHANGE_EVERY, flipping an
// annotation (gatehouse.io/response-headers: X-Churn: <n>). Every change must be applied with no
// failed request, and the new value must be served within P99_APPLY_MS:
//
//   k6 run -e TARGET=http://<gatehouse-service-ip>/ -e HOST=app.example.com \
//     -e KUBE_API=https://<api-server> -e TOKEN=$(kubectl create token churner) \
//     -e NAMESPACE=default -e INGRESS=app loadtest/k6/churn.ts
//
// The token needs `patch` on that Ingress only (a Role with resourceNames: [INGRESS]). The
// annotation is Gatehouse's own, so nothing else reacts to it; the last value stays on the
// Ingress after the run (remove it with kubectl annotate ingress INGRESS gatehouse.io/response-headers-).
//
// Environment (k6 -e NAME=value):
//   TARGET, HOST        the URL and Host header to load, as smoke.ts
//   KUBE_API, TOKEN     the API server URL and a bearer token; INSECURE=true skips its TLS check
//   NAMESPACE, INGRESS  the Ingress to change (it must route HOST and TARGET's path)
//   RATE (default 200), DURATION (default 2m), CHANGE_EVERY (default 5s), P99_MS (default 500)
//   P99_APPLY_MS        p99 of change → served (default 1000)

import { check, sleep } from 'k6';
import exec from 'k6/execution';
import http from 'k6/http';
import { Counter, Trend } from 'k6/metrics';
import type { Options } from 'k6/options';
import { env, positive } from './env.ts';

const TARGET = env('TARGET');
const HOST = env('HOST', '');
const KUBE_API = env('KUBE_API').replace(/\/+$/, '');
const TOKEN = env('TOKEN');
const NAMESPACE = env('NAMESPACE', 'default');
const INGRESS = env('INGRESS');
const RATE = positive('RATE', '200');
const DURATION = env('DURATION', '2m');
const CHANGE_EVERY_S = positive('CHANGE_EVERY', '5');
const P99_MS = positive('P99_MS', '500');
const P99_APPLY_MS = positive('P99_APPLY_MS', '1000');

/** Time from the API server accepting a change to the first answer that carries it. */
const applied = new Trend('change_applied', true);
/** Changes not served within CHANGE_EVERY. */
const missed = new Counter('change_missed');

export const options: Options = {
  insecureSkipTLSVerify: env('INSECURE', 'false') === 'true',
  scenarios: {
    load: { executor: 'constant-arrival-rate', rate: RATE, timeUnit: '1s', duration: DURATION, preAllocatedVUs: Math.max(10, Math.ceil(RATE / 10)), maxVUs: 300, exec: 'load' },
    churn: { executor: 'constant-vus', vus: 1, duration: DURATION, exec: 'churn' },
  },
  thresholds: {
    'http_req_failed{scenario:load}': ['rate<0.001'],
    'http_req_duration{scenario:load}': [`p(99)<${P99_MS}`],
    change_applied: [`p(99)<${P99_APPLY_MS}`],
    change_missed: ['count==0'],
    checks: ['rate>0.999'],
  },
  summaryTrendStats: ['avg', 'min', 'med', 'p(90)', 'p(99)', 'max'],
};

const headers: Record<string, string> = HOST === '' ? {} : { Host: HOST };
const target = { headers, timeout: '10s' };

export function load(): void {
  const res = http.get(TARGET, { ...target, tags: { name: 'load' } });
  check(res, { 'status is 2xx/3xx': (r) => r.status >= 200 && r.status < 400 });
}

export function churn(): void {
  const value = `${exec.vu.idInTest}-${exec.scenario.iterationInTest}`;
  const patch = { metadata: { annotations: { 'gatehouse.io/response-headers': `X-Churn: ${value}` } } };
  const url = `${KUBE_API}/apis/networking.k8s.io/v1/namespaces/${NAMESPACE}/ingresses/${INGRESS}`;
  const res = http.patch(url, JSON.stringify(patch), { headers: { Authorization: `Bearer ${TOKEN}`, 'Content-Type': 'application/merge-patch+json' }, tags: { name: 'patch' } });
  if (!check(res, { 'patch accepted': (r) => r.status === 200 })) return void sleep(CHANGE_EVERY_S);
  const since = Date.now();
  // Poll until the change is served (bounded by the change interval).
  let served = false;
  while (!served && Date.now() - since < CHANGE_EVERY_S * 1000) {
    served = http.get(TARGET, { ...target, tags: { name: 'probe' } }).headers['X-Churn'] === value;
    if (served) applied.add(Date.now() - since);
    else sleep(0.01);
  }
  if (!served) missed.add(1);
  sleep(Math.max(0, CHANGE_EVERY_S - (Date.now() - since) / 1000));
}
