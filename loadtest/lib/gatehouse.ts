// Gatehouse as a child process in local mode: a temporary manifests directory routing one
// host to one upstream, ports picked free on 127.0.0.1, started with `src/main.ts`, ready
// when its admin server's /readyz answers 200.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startChild, untilReady, type Child } from './child.ts';

const MAIN = fileURLToPath(new URL('../../src/main.ts', import.meta.url));

/** An IngressClass, a Service, its EndpointSlice and an Ingress: `host` → 127.0.0.1:`upstreamPort`. */
export function benchManifests(host: string, upstreamPort: number): string {
  return `apiVersion: networking.k8s.io/v1
kind: IngressClass
metadata: {name: gatehouse}
spec: {controller: gatehouse.io/ingress-controller}
---
apiVersion: v1
kind: Service
metadata: {name: echo, namespace: bench}
spec:
  ports: [{name: http, port: 80, targetPort: http}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: echo-1
  namespace: bench
  labels: {kubernetes.io/service-name: echo}
addressType: IPv4
ports: [{name: http, port: ${upstreamPort}}]
endpoints:
  - addresses: [127.0.0.1]
    conditions: {ready: true}
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: echo, namespace: bench}
spec:
  ingressClassName: gatehouse
  rules:
    - host: ${host}
      http:
        paths:
          - path: /
            pathType: Prefix
            backend: {service: {name: echo, port: {name: http}}}
`;
}

/** A port free on 127.0.0.1 right now (the kernel picks it; a small race before reuse is accepted). */
/** Service `pool` (namespace bench, port 80 `http`) over upstreams on 127.0.0.1, one EndpointSlice per port: YAML documents, without the separator after the last. */
export function poolService(ports: readonly number[]): string {
  const service = `apiVersion: v1
kind: Service
metadata: {name: pool, namespace: bench}
spec:
  ports: [{name: http, port: 80, targetPort: http}]
`;
  const slices = ports.map((port, i) => `apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: pool-${i + 1}, namespace: bench, labels: {kubernetes.io/service-name: pool}}
addressType: IPv4
ports: [{name: http, port: ${port}}]
endpoints: [{addresses: [127.0.0.1]}]
`);
  return [service, ...slices].join('---\n');
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

export interface Gatehouse {
  child: Child;
  httpPort: number;
  /** The HTTPS listener (h2 and http/1.1 by ALPN, the generated self-signed certificate). */
  httpsPort: number;
  statusPort: number;
  manifestsDir: string;
  /** Stops the process by PID (SIGTERM: it drains and exits) and removes the manifests. */
  stop(): Promise<void>;
}

export interface GatehouseOptions {
  host: string;
  upstreamPort: number;
  workers: number;
  /** Node flags, e.g. ['--cpu-prof', '--cpu-prof-dir', dir]. */
  execArgv?: string[];
  /** More manifests (YAML documents) beside the bench Ingress, e.g. an Ingress with policies. */
  extraManifests?: string;
  /** More flags for Gatehouse, e.g. ['--enable-metrics=false']. */
  args?: string[];
  /** Write the access log to a file in a temporary directory of its own (removed on stop), as nginx in the bench does; else to standard output, which the runner keeps the tail of. */
  accessLogFile?: boolean;
}

/** Polls /readyz until 200; gives up (quietly: `untilReady` reports) once `gaveUp()` is true. */
async function waitForReady(statusPort: number, gaveUp: () => boolean): Promise<void> {
  while (!gaveUp()) {
    try {
      const res = await fetch(`http://127.0.0.1:${statusPort}/readyz`, { signal: AbortSignal.timeout(1000) });
      await res.arrayBuffer();
      if (res.status === 200) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

export async function startGatehouse(o: GatehouseOptions): Promise<Gatehouse> {
  const manifestsDir = mkdtempSync(join(tmpdir(), 'gatehouse-bench-'));
  writeFileSync(join(manifestsDir, 'bench.yaml'), benchManifests(o.host, o.upstreamPort));
  if (o.extraManifests !== undefined) writeFileSync(join(manifestsDir, 'extra.yaml'), o.extraManifests);
  const [httpPort, httpsPort, statusPort] = [await freePort(), await freePort(), await freePort()];
  // Not in the manifests directory: local mode watches it.
  const logDir = o.accessLogFile ? mkdtempSync(join(tmpdir(), 'gatehouse-bench-log-')) : null;
  const args = ['--manifests', manifestsDir, '--workers', String(o.workers), '--bind-address', '127.0.0.1', '--log-level', 'warn', '--http-port', String(httpPort), '--https-port', String(httpsPort), '--status-port', String(statusPort), '--shutdown-grace-period', '2', ...(logDir === null ? [] : ['--access-log-path', join(logDir, 'access.log')]), ...(o.args ?? [])];
  const child = startChild('gatehouse', MAIN, args, { execArgv: o.execArgv });
  const stop = async () => {
    await child.stop(10_000);
    for (const d of [manifestsDir, logDir]) if (d !== null) rmSync(d, { recursive: true, force: true });
  };
  let gaveUp = false;
  try {
    await untilReady(child, waitForReady(statusPort, () => gaveUp), 20_000, 'ready (/readyz 200)');
  } catch (err) {
    gaveUp = true;
    await stop();
    throw err;
  }
  return { child, httpPort, httpsPort, statusPort, manifestsDir, stop };
}
