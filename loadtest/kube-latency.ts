// `node loadtest/kube-latency.ts [--iterations N] [--workers N]` (Node 24; from the repository
// root `npx node loadtest/kube-latency.ts` uses the project's.)
//
// How long a change takes from the API server's watch event to every worker serving it, in
// Kubernetes mode: the Kubernetes API emulator (test/support/) and the real controller
// (launch(), --apiserver-host, leader election on) in this process, echo upstreams on
// 127.0.0.1. N times each:
//   route:     an Ingress's backend switched between two Services (compile, new table generation)
//   endpoints: an EndpointSlice's port switched between two upstreams (the endpoints fast path)
// The clock starts right before the emulator's update, which writes the watch event to the
// controller's open watch stream synchronously; it stops when a tight poll (setImmediate) sees
// every worker ack the new generation (route) or endpoint fingerprint (endpoints). That
// includes the holdoff (20 ms by default, DESIGN.md "Data flow" 2), which batches bursts. The
// emulator shares this process's event loop, so its JSON encoding is counted too.
// Not part of npm test. Prints p50/p95/max per kind; one request through each checks routing.

import { setImmediate as immediate } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { Agent } from 'undici';
import { launch, type Launched } from '../src/control/launch.ts';
import { createLog } from '../src/observability/log.ts';
import { parseOptions } from '../src/options.ts';
import { startEchoes } from '../test/support/echo-upstream.ts';
import { backendService, endpointSlice, freePort, ingressClass, simpleIngress, sleep } from '../test/support/harness.ts';
import { send, servedBy } from '../test/support/http-client.ts';
import { startKubeApi, type KubeApi, type KubeObject } from '../test/support/kube-api-emulator.ts';

const { values } = parseArgs({
  options: {
    iterations: { type: 'string', default: '50' },
    workers: { type: 'string', default: '2' },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (values.help) {
  process.stdout.write('Flags:\n  --iterations N   changes of each kind (default 50, 1-1000)\n  --workers N      data-plane workers (default 2, 1-16)\n');
  process.exit(0);
}
const ITERATIONS = Number(values.iterations);
const WORKERS = Number(values.workers);
if (!Number.isInteger(ITERATIONS) || ITERATIONS < 1 || ITERATIONS > 1000) throw new Error('--iterations: expected 1-1000');
if (!Number.isInteger(WORKERS) || WORKERS < 1 || WORKERS > 16) throw new Error('--workers: expected 1-16');
/** One change must be served within this, or the run stops. */
const TIMEOUT_MS = 5000;
/** Quiet time between changes, above the holdoff's 200 ms cap, so each is measured alone. */
const GAP_MS = 250;

const put = (api: KubeApi, ...objects: (Record<string, unknown> | Record<string, unknown>[])[]) => {
  for (const o of objects.flat()) api.apply(o as KubeObject);
};

async function until(what: string, done: () => boolean): Promise<void> {
  const deadline = performance.now() + TIMEOUT_MS;
  while (!done()) {
    if (performance.now() > deadline) throw new Error(`not served within ${TIMEOUT_MS} ms: ${what}`);
    await immediate();
  }
}

function summary(name: string, ms: number[]): string {
  const s = [...ms].sort((a, b) => a - b);
  const at = (q: number) => s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)]!;
  const f = (x: number) => x.toFixed(1).padStart(7);
  return `${name.padEnd(10)} n=${String(s.length).padEnd(4)} p50 ${f(at(0.5))} ms   p95 ${f(at(0.95))} ms   max ${f(s[s.length - 1]!)} ms   min ${f(s[0]!)} ms`;
}

const echoes = await startEchoes(['a', 'b', 'c'] as const);
const api = await startKubeApi();
const agent = new Agent();
let launched: Launched | null = null;
try {
  put(api, ingressClass('gatehouse'), backendService('a', echoes.a.port), backendService('b', echoes.b.port));
  put(api, simpleIngress('latency', 'latency.test', 'a'));
  const [httpPort, httpsPort, statusPort] = [await freePort(), await freePort(), await freePort()];
  const options = parseOptions([
    '--apiserver-host', api.url, '--bind-address', '127.0.0.1', '--workers', String(WORKERS), '--log-level', 'silent',
    '--http-port', String(httpPort), '--https-port', String(httpsPort), '--status-port', String(statusPort), '--shutdown-grace-period', '1',
  ]);
  launched = await launch(options, createLog('silent'), { env: { POD_NAMESPACE: 'gatehouse', POD_NAME: 'latency' } });
  const { controller } = launched;
  const origin = `http://127.0.0.1:${httpPort}`;
  const who = async () => servedBy(await send(agent, origin, '/', { host: 'latency.test' }));
  if ((await who()) !== 'a') throw new Error('the first table does not route latency.test to a');

  const route: number[] = [];
  for (let i = 1; i <= ITERATIONS; i++) {
    await sleep(GAP_MS);
    const before = controller.table()!.generation;
    const target = i % 2 === 1 ? 'b' : 'a';
    const t0 = performance.now();
    put(api, simpleIngress('latency', 'latency.test', target));
    await until(`route change ${i}`, () => controller.table()!.generation > before && controller.pool.current());
    route.push(performance.now() - t0);
  }
  const lastRoute = ITERATIONS % 2 === 1 ? 'b' : 'a';
  if ((await who()) !== lastRoute) throw new Error(`after the route changes latency.test is not served by ${lastRoute}`);

  // Endpoints: the slice of the Service the route points at now, switched between two upstreams.
  const ports = { [lastRoute]: echoes[lastRoute].port, c: echoes.c.port } as Record<string, number>;
  const endpoints: number[] = [];
  const generation = controller.table()!.generation;
  for (let i = 1; i <= ITERATIONS; i++) {
    await sleep(GAP_MS);
    const before = controller.endpoints()!.fingerprint;
    const upstream = i % 2 === 1 ? 'c' : lastRoute;
    const t0 = performance.now();
    put(api, endpointSlice(`${lastRoute}-0`, lastRoute, { ports: [{ name: 'http', port: ports[upstream]! }] }));
    await until(`endpoints change ${i}`, () => controller.endpoints()!.fingerprint !== before && controller.pool.current());
    endpoints.push(performance.now() - t0);
  }
  if (controller.table()!.generation !== generation) throw new Error('an EndpointSlice change published a new route table');
  const lastUpstream = ITERATIONS % 2 === 1 ? 'c' : lastRoute;
  if ((await who()) !== lastUpstream) throw new Error(`after the endpoint changes latency.test is not served by ${lastUpstream}`);

  process.stdout.write(`watch event → every worker serving it (${WORKERS} worker${WORKERS === 1 ? '' : 's'}, holdoff 20 ms, Node ${process.version})\n`);
  process.stdout.write(`${summary('route', route)}\n${summary('endpoints', endpoints)}\n`);
} finally {
  await agent.close();
  await launched?.close();
  await api.close();
  await echoes.closeAll();
}
process.exit(0);
