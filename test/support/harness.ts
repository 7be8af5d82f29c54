// Runs the real controller in-process for end-to-end tests: a temp directory of manifests
// watched by the real ManifestSource, the real worker pool listening on 127.0.0.1 on a fixed
// port (reserved with reservePort() until the workers hold it), the admin server on an
// ephemeral port, and an undici Agent (kept-alive connections) to talk to it. Also YAML
// builders for the objects the tests write.

import { mkdtemp, rename, rm, unlink, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Agent, type Dispatcher } from 'undici';
import { stringify } from 'yaml';
import { startController, type Controller } from '../../src/control/controller.ts';
import { manifestSource } from '../../src/control/launch.ts';
import { createLog } from '../../src/observability/log.ts';
import { defaults, type Options } from '../../src/options.ts';
import { send, type Reply, type SendOptions } from './http-client.ts';

// ---- ports and waiting ----------------------------------------------------------------

/** A port that was free on 127.0.0.1 a moment ago (listen on 0, read it, close). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen({ port: 0, host: '127.0.0.1' }, () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/**
 * A port held on 127.0.0.1 with SO_REUSEPORT until `release()`. The workers join it (they listen
 * with reusePort too, as the same user), so no other test process can be handed the same port
 * between choosing it and the workers binding it, which freePort() cannot promise. Nothing
 * connects before the controller is settled, so the placeholder never gets a connection.
 */
export function reservePort(): Promise<{ port: number; release(): Promise<void> }> {
  return new Promise((resolve, reject) => {
    const server = createServer((socket) => socket.destroy());
    server.once('error', reject);
    server.listen({ port: 0, host: '127.0.0.1', reusePort: true }, () => {
      const { port } = server.address() as { port: number };
      let released: Promise<void> | null = null;
      resolve({ port, release: () => (released ??= new Promise<void>((r) => server.close(() => r()))) });
    });
  });
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Polls `check` every `everyMs` until it returns true; rejects after `timeoutMs`. */
export async function waitFor(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 10_000, everyMs = 10): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}

function within<T>(what: string, p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

// ---- the controller -------------------------------------------------------------------

export interface WriteOptions {
  /**
   * 'change' (default): wait until the control plane publishes a new table or endpoint table,
   * then until every worker serves it. 'none': the write is expected to change nothing that is
   * served; wait out the source's debounce and the holdoff, then until the pool is settled.
   */
  readonly expect?: 'change' | 'none';
}

export interface Gatehouse {
  readonly httpPort: number;
  /** The HTTPS listener (reserved like the HTTP one unless options.httpsPort is given). */
  readonly httpsPort: number;
  readonly adminPort: number;
  /** `http://127.0.0.1:<httpPort>` */
  readonly origin: string;
  readonly dir: string;
  readonly options: Options;
  readonly controller: Controller;
  /** Kept-alive connections to the HTTP port; closed by close(). */
  readonly agent: Agent;
  /** GET (or `options.method`) through the shared agent. */
  request(path: string, options?: SendOptions, dispatcher?: Dispatcher): Promise<Reply>;
  /** What the pool serves: table generation and endpoint fingerprint. */
  served(): { generation: number; endpoints: string };
  /** Writes `file` (relative to dir) atomically, then waits as `options.expect` says. */
  write(file: string, text: string, options?: WriteOptions): Promise<void>;
  /** Removes `file`, then waits as `options.expect` says. */
  remove(file: string, options?: WriteOptions): Promise<void>;
  /** GET on the admin port; JSON body parsed. */
  admin(pathname: string): Promise<{ status: number; body: unknown }>;
  /** Drains and stops the controller, closes the agent, removes the directory. Safe to call twice. */
  close(): Promise<void>;
}

export interface StartOptions {
  /** One YAML text (written as `manifests.yaml`) or files by name. */
  readonly manifests?: string | Readonly<Record<string, string>>;
  readonly options?: Partial<Options>;
}

/** Quiet time after a write that should change nothing: the source's debounce (20 ms), with room. */
const NO_CHANGE_WAIT_MS = 400;

export async function startGatehouse(start: StartOptions = {}): Promise<Gatehouse> {
  const dir = await mkdtemp(path.join(tmpdir(), 'gatehouse-e2e-'));
  const files = typeof start.manifests === 'string' ? { 'manifests.yaml': start.manifests } : (start.manifests ?? {});
  for (const [name, text] of Object.entries(files)) await writeFile(path.join(dir, name), text);

  const reserved = start.options?.httpPort === undefined ? await reservePort() : null;
  const reservedHttps = start.options?.httpsPort === undefined ? await reservePort() : null;
  const options: Options = {
    ...defaults(),
    manifests: dir,
    httpPort: reserved?.port ?? 0,
    httpsPort: reservedHttps?.port ?? 0,
    // 0: the admin server takes an ephemeral port; controller.adminPort says which.
    statusPort: 0,
    bindAddress: '127.0.0.1',
    workers: 2,
    logLevel: 'silent',
    // The access log is off unless a test asks for it (test/e2e/access-log.test.ts).
    accessLogSample: 0,
    shutdownGracePeriod: 1,
    ...start.options,
  };
  const log = createLog(options.logLevel);
  const source = await manifestSource(dir, options, log);
  let controller: Controller | undefined;
  try {
    controller = await startController(options, source, log);
    await within('the pool to settle on the first generation', controller.settled(), 15_000);
  } catch (err) {
    await controller?.close();
    await rm(dir, { recursive: true, force: true });
    throw err;
  } finally {
    await reserved?.release();
    await reservedHttps?.release();
  }
  const origin = `http://127.0.0.1:${options.httpPort}`;
  const agent = new Agent({ keepAliveTimeout: 10_000, connections: 16 });

  const served = () => ({ generation: controller.table()?.generation ?? 0, endpoints: controller.endpoints()?.fingerprint ?? '' });
  const settle = async (before: { generation: number; endpoints: string }, expect: 'change' | 'none') => {
    if (expect === 'change') {
      await waitFor('the control plane to publish a change', () => {
        const now = served();
        return now.generation !== before.generation || now.endpoints !== before.endpoints;
      });
    } else {
      await sleep(NO_CHANGE_WAIT_MS);
    }
    await within('every worker to serve the latest state', controller.settled(), 10_000);
  };

  let closing: Promise<void> | null = null;
  const gh: Gatehouse = {
    httpPort: options.httpPort,
    httpsPort: options.httpsPort,
    adminPort: controller.adminPort,
    origin,
    dir,
    options,
    controller,
    agent,
    request: (p, o, dispatcher) => send(dispatcher ?? agent, origin, p, o),
    served,
    async write(file, text, o = {}) {
      const before = served();
      const target = path.join(dir, file);
      // Dot-files are skipped by the source, so the half-written temp file is never read.
      const temp = path.join(path.dirname(target), `.${path.basename(target)}.tmp`);
      await writeFile(temp, text);
      await rename(temp, target);
      await settle(before, o.expect ?? 'change');
    },
    async remove(file, o = {}) {
      const before = served();
      await unlink(path.join(dir, file));
      await settle(before, o.expect ?? 'change');
    },
    async admin(pathname) {
      const res = await send(agent, `http://127.0.0.1:${controller.adminPort}`, pathname);
      return { status: res.status, body: JSON.parse(res.text) as unknown };
    },
    close: () =>
      (closing ??= (async () => {
        await agent.close().catch(() => undefined);
        await controller.close();
        await rm(dir, { recursive: true, force: true });
      })()),
  };
  return gh;
}

// ---- manifest builders ----------------------------------------------------------------

type Obj = Record<string, unknown>;

/**
 * Multi-document YAML from objects (and arrays of objects). Written as YAML 1.1, which the
 * manifest source reads (as Kubernetes does), so strings like "on" or "yes" come out quoted and
 * read back as strings.
 */
export function manifest(...objects: (Obj | readonly Obj[])[]): string {
  return objects.flat().map((o) => stringify(o, { version: '1.1' })).join('---\n');
}

export const OUR_CONTROLLER = 'gatehouse.io/ingress-controller';

export function ingressClass(name: string, o: { controller?: string; isDefault?: boolean } = {}): Obj {
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'IngressClass',
    metadata: { name, ...(o.isDefault ? { annotations: { 'ingressclass.kubernetes.io/is-default-class': 'true' } } : {}) },
    spec: { controller: o.controller ?? OUR_CONTROLLER },
  };
}

export interface ServicePort {
  readonly name?: string;
  readonly port: number;
  readonly targetPort?: number | string;
}

export function service(name: string, o: { namespace?: string; ports?: readonly ServicePort[] } = {}): Obj {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name, namespace: o.namespace ?? 'default' },
    spec: { ports: o.ports ?? [{ name: 'http', port: 80, targetPort: 'http' }] },
  };
}

export function externalNameService(name: string, externalName: string, o: { namespace?: string; ports?: readonly ServicePort[] } = {}): Obj {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name, namespace: o.namespace ?? 'default' },
    spec: { type: 'ExternalName', externalName, ...(o.ports ? { ports: o.ports } : {}) },
  };
}

export interface SliceEndpoint {
  readonly address?: string;
  readonly ready?: boolean;
}

/** An EndpointSlice of Service `serviceName`; `ports` map the Service port's name to the endpoint port. */
export function endpointSlice(
  name: string,
  serviceName: string,
  o: { namespace?: string; ports: readonly { name?: string; port: number }[]; endpoints?: readonly SliceEndpoint[] },
): Obj {
  return {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: { name, namespace: o.namespace ?? 'default', labels: { 'kubernetes.io/service-name': serviceName } },
    addressType: 'IPv4',
    ports: o.ports.map((p) => ({ name: p.name ?? '', port: p.port })),
    endpoints: (o.endpoints ?? [{}]).map((e) => ({ addresses: [e.address ?? '127.0.0.1'], conditions: { ready: e.ready ?? true } })),
  };
}

/**
 * A Service `name` (port 80 named `http`) and one EndpointSlice per upstream port, each with one
 * ready endpoint on 127.0.0.1: the usual way to put echo upstreams behind a Service.
 */
export function backendService(name: string, upstreamPorts: number | readonly number[], o: { namespace?: string } = {}): Obj[] {
  const ports = typeof upstreamPorts === 'number' ? [upstreamPorts] : upstreamPorts;
  return [
    service(name, { namespace: o.namespace }),
    ...ports.map((port, i) => endpointSlice(`${name}-${i}`, name, { namespace: o.namespace, ports: [{ name: 'http', port }] })),
  ];
}

export interface PathSpec {
  readonly path?: string;
  readonly pathType?: 'Exact' | 'Prefix' | 'ImplementationSpecific';
  readonly service: string;
  /** Port number or name; default 80. */
  readonly port?: number | string;
}

export interface RuleSpec {
  readonly host?: string;
  readonly paths?: readonly PathSpec[];
}

function backendRef(service: string, port: number | string = 80): Obj {
  return { service: { name: service, port: typeof port === 'number' ? { number: port } : { name: port } } };
}

export function ingress(
  name: string,
  o: {
    namespace?: string;
    /** spec.ingressClassName; default 'gatehouse'; null for none. */
    className?: string | null;
    annotations?: Record<string, string>;
    creationTimestamp?: string;
    rules?: readonly RuleSpec[];
    defaultBackend?: { service: string; port?: number | string };
  } = {},
): Obj {
  const className = o.className === undefined ? 'gatehouse' : o.className;
  const spec: Obj = {};
  if (className !== null) spec.ingressClassName = className;
  if (o.defaultBackend) spec.defaultBackend = backendRef(o.defaultBackend.service, o.defaultBackend.port);
  if (o.rules) {
    spec.rules = o.rules.map((r) => ({
      ...(r.host !== undefined ? { host: r.host } : {}),
      http: { paths: (r.paths ?? []).map((p) => ({ path: p.path ?? '/', pathType: p.pathType ?? 'Prefix', backend: backendRef(p.service, p.port) })) },
    }));
  }
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'Ingress',
    metadata: {
      name,
      namespace: o.namespace ?? 'default',
      ...(o.creationTimestamp ? { creationTimestamp: o.creationTimestamp } : {}),
      ...(o.annotations ? { annotations: o.annotations } : {}),
    },
    spec,
  };
}

/** An Ingress with one host and one Prefix `/` path to `service`. */
export function simpleIngress(name: string, host: string, svc: string, o: { namespace?: string; className?: string | null } = {}): Obj {
  return ingress(name, { ...o, rules: [{ host, paths: [{ path: '/', pathType: 'Prefix', service: svc }] }] });
}
