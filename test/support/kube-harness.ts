// Runs the real controller in Kubernetes mode, in-process, against the Kubernetes API emulator:
// `launch()` with options parsed from real flags (`--apiserver-host <emulator>` or `--kubeconfig
// <file from api.kubeconfigYaml()>`), the worker pool on 127.0.0.1 on reserved ports, the admin
// server on a port picked beforehand (so /readyz can be asked while the informers still sync),
// short leader-election timings, and the controller's log lines kept in memory (tests read who
// wrote status and who became leader from them). Also: putting objects into the emulator, and
// polling until a host is served by the expected upstream.

import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { Agent } from 'undici';
import { launch, type Launched } from '../../src/control/launch.ts';
import type { Controller } from '../../src/control/controller.ts';
import type { Log } from '../../src/observability/log.ts';
import { parseOptions, type Options } from '../../src/options.ts';
import type { KubeModeTimings } from '../../src/sources/kube/kube-mode.ts';
import type { LeaderElector } from '../../src/sources/kube/leader-election.ts';
import { freePort, reservePort, sleep } from './harness.ts';
import { send, servedBy, type Reply, type SendOptions } from './http-client.ts';
import type { KubeApi, KubeObject } from './kube-api-emulator.ts';

/** client-go's ratios, scaled down: the Lease record says 2 s (whole seconds on the wire). */
export const TEST_TIMINGS: Required<KubeModeTimings> = { leaseDurationMs: 2000, renewDeadlineMs: 1000, retryPeriodMs: 200 };

/** One log line as pino wrote it. */
export interface LogLine {
  readonly level: number;
  readonly msg: string;
  readonly component?: string;
  readonly [k: string]: unknown;
}

export interface KubeGatehouseOptions {
  /** POD_NAME: the Lease identity and the Events' reportingInstance. Default `gh-a`. */
  readonly name?: string;
  /** Flags after the ones the harness sets (`--watch-namespace x`, `--publish-status-address ...`). */
  readonly args?: readonly string[];
  /** Connect through `--kubeconfig` (a file from api.kubeconfigYaml) instead of `--apiserver-host`. */
  readonly kubeconfig?: { readonly token?: string | null };
  readonly timings?: KubeModeTimings;
  /** Level of the in-memory log (the workers log nothing: --log-level silent). Default info. */
  readonly logLevel?: 'debug' | 'info' | 'warn';
}

export interface KubeGatehouse {
  readonly name: string;
  readonly launched: Launched;
  readonly controller: Controller;
  readonly elector: LeaderElector;
  readonly options: Options;
  readonly httpPort: number;
  readonly adminPort: number;
  /** `http://127.0.0.1:<httpPort>` */
  readonly origin: string;
  /** Every log line of the control plane, oldest first. */
  readonly logs: LogLine[];
  /** GET (or options.method) on the HTTP port through a kept-alive agent. */
  request(path: string, options?: SendOptions): Promise<Reply>;
  /** The echo upstream's name that served `host` + `path`, or the status code of any other answer. */
  who(host: string, path?: string): Promise<string | number>;
  /** Polls `who(host, path)` until it equals `expected`; rejects with the last answer after `timeoutMs`. */
  until(host: string, expected: string | number, path?: string, timeoutMs?: number): Promise<void>;
  /** GET on the admin port; JSON body parsed. */
  admin(pathname: string): Promise<{ status: number; body: unknown }>;
  /** What the control plane publishes: table generation and endpoint fingerprint. */
  served(): { generation: number; endpoints: string };
  /** Drains, releases the Lease, closes the agent. Safe to call twice. */
  close(): Promise<void>;
}

export interface StartingKubeGatehouse {
  readonly adminPort: number;
  /** Every log line of the control plane so far, oldest first. */
  readonly logs: LogLine[];
  /** GET on the admin port while launch() has not returned yet. */
  admin(pathname: string): Promise<{ status: number; body: unknown }>;
  /** GET on the HTTP port while launch() has not returned yet. */
  request(path: string, options?: SendOptions): Promise<Reply>;
  /** Resolves when launch() returned: informers synced, every worker serves the first table. */
  readonly started: Promise<KubeGatehouse>;
}

/** A pino logger at `level` whose lines land in `lines`, parsed. */
export function memoryLog(level: string, lines: LogLine[]): Log {
  return pino({ level, base: null, timestamp: false }, { write: (s: string) => void lines.push(JSON.parse(s) as LogLine) });
}

async function getJson(agent: Agent, origin: string, pathname: string): Promise<{ status: number; body: unknown }> {
  const res = await send(agent, origin, pathname);
  return { status: res.status, body: JSON.parse(res.text) as unknown };
}

function within<T>(what: string, p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

/** Starts launch() and returns at once with the admin port; `started` resolves when it returned. */
export async function beginKubeGatehouse(api: KubeApi, o: KubeGatehouseOptions = {}): Promise<StartingKubeGatehouse> {
  const name = o.name ?? 'gh-a';
  const http = await reservePort();
  const https = await reservePort();
  const adminPort = await freePort();
  let dir: string | null = null;
  const connection: string[] = [];
  if (o.kubeconfig) {
    dir = await mkdtemp(path.join(tmpdir(), 'gatehouse-kube-'));
    const file = path.join(dir, 'kubeconfig.yaml');
    await writeFile(file, api.kubeconfigYaml(o.kubeconfig.token === undefined ? {} : { token: o.kubeconfig.token }));
    connection.push('--kubeconfig', file);
  } else {
    connection.push('--apiserver-host', api.url);
  }
  const options = parseOptions([
    ...connection,
    '--bind-address', '127.0.0.1',
    '--http-port', String(http.port),
    '--https-port', String(https.port),
    '--status-port', String(adminPort),
    '--workers', '2',
    '--log-level', 'silent',
    // No access log on the test's standard output (test/e2e/access-log.test.ts has it).
    '--access-log-sample', '0',
    '--shutdown-grace-period', '1',
    ...(o.args ?? []),
  ]);
  const logs: LogLine[] = [];
  const log = memoryLog(o.logLevel ?? 'info', logs);
  const agent = new Agent({ keepAliveTimeout: 10_000, connections: 16 });
  const origin = `http://127.0.0.1:${options.httpPort}`;
  const adminOrigin = `http://127.0.0.1:${adminPort}`;
  const cleanupDir = () => (dir === null ? Promise.resolve() : rm(dir, { recursive: true, force: true }));

  const launching = launch(options, log, { env: { POD_NAMESPACE: 'gatehouse', POD_NAME: name }, timings: o.timings ?? TEST_TIMINGS });
  const started = (async (): Promise<KubeGatehouse> => {
    let launched: Launched;
    try {
      launched = await within(`${name} to launch (informers synced, workers serving)`, launching, 20_000);
    } catch (err) {
      await agent.close().catch(() => undefined);
      await cleanupDir();
      const tail = logs.slice(-20).map((l) => JSON.stringify(l)).join('\n');
      throw new Error(`${(err as Error).message}; the last log lines:\n${tail}`, { cause: err });
    } finally {
      await http.release();
      await https.release();
    }
    const { controller } = launched;
    const who = async (host: string, p = '/'): Promise<string | number> => {
      const r = await send(agent, origin, p, { host });
      return r.status === 200 ? (servedBy(r) ?? 200) : r.status;
    };
    let closing: Promise<void> | null = null;
    const gh: KubeGatehouse = {
      name,
      launched,
      controller,
      elector: launched.kube!.elector,
      options,
      httpPort: options.httpPort,
      adminPort,
      origin,
      logs,
      request: (p, so) => send(agent, origin, p, so),
      who,
      async until(host, expected, p = '/', timeoutMs = 10_000) {
        const deadline = Date.now() + timeoutMs;
        let last: string | number | undefined;
        for (;;) {
          last = await who(host, p).catch((err: unknown) => `error: ${(err as Error).message}`);
          if (last === expected) return;
          if (Date.now() > deadline) throw new Error(`${name}: ${host}${p} still answers ${JSON.stringify(last)} after ${timeoutMs} ms, expected ${JSON.stringify(expected)}`);
          await sleep(10);
        }
      },
      admin: (p) => getJson(agent, adminOrigin, p),
      served: () => ({ generation: controller.table()?.generation ?? 0, endpoints: controller.endpoints()?.fingerprint ?? '' }),
      close: () =>
        (closing ??= (async () => {
          await agent.close().catch(() => undefined);
          await launched.close();
          await cleanupDir();
        })()),
    };
    return gh;
  })();
  started.catch(() => undefined);
  return {
    adminPort,
    logs,
    admin: (p) => getJson(agent, adminOrigin, p),
    request: (p, so) => send(agent, origin, p, so),
    started,
  };
}

export async function startKubeGatehouse(api: KubeApi, o: KubeGatehouseOptions = {}): Promise<KubeGatehouse> {
  return (await beginKubeGatehouse(api, o)).started;
}

/**
 * Creates or replaces each object (arrays flattened) in the emulator, as a client's create or
 * update would: an object given without `status` keeps the stored one (a real API server
 * ignores status on the main resource; the emulator's `apply` would replace it).
 */
export function put(api: KubeApi, ...objects: (Record<string, unknown> | readonly Record<string, unknown>[])[]): void {
  for (const o of objects.flat() as KubeObject[]) {
    const current = o.status === undefined ? api.get(o.kind!, o.metadata?.namespace, o.metadata?.name ?? '') : undefined;
    api.apply(current?.status === undefined ? o : { ...o, status: current.status });
  }
}

/** The Ingress's status.loadBalancer.ingress in the emulator ([] when unset). */
export function ingressStatus(api: KubeApi, namespace: string, name: string): unknown[] {
  const o = api.get('Ingress', namespace, name) as { status?: { loadBalancer?: { ingress?: unknown[] } } } | undefined;
  return o?.status?.loadBalancer?.ingress ?? [];
}

/** Polls `check` every 10 ms until true; rejects after `timeoutMs` naming `what`. */
export async function eventually(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<number> {
  const started = performance.now();
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return performance.now() - started;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(10);
  }
}
