// The control plane: a source feeds the snapshot; after the initial sync, and then after a
// short holdoff (or at once when the source says its batch is complete), compile runs and the pool gets the new table (only when its fingerprint
// changed) and the endpoints (recomputed alone when only EndpointSlices changed).

import { compile, CompileMemo, type CompileResult } from '../core/compile.ts';
import { conditionKey, sortConditions } from '../core/conditions.ts';
import { resolveEndpoints } from '../core/endpoints.ts';
import type { Condition, EndpointTable, RouteTable } from '../core/model.ts';
import { mergeChange, Snapshot, type Change } from '../core/snapshot.ts';
import { startAdminServer, type AdminServer } from '../observability/admin-server.ts';
import { dashboardState } from '../observability/dashboard-state.ts';
import { COMPILE_BUCKETS, Histogram, renderMetrics, type EndpointHealthSample } from '../observability/metrics.ts';
import type { Log } from '../observability/log.ts';
import { compileOptions, statusBindAddresses, type Options } from '../options.ts';
import type { Source, SourceSink } from '../sources/source.ts';
import type { AcmeService } from './acme/acme-service.ts';
import { Holdoff } from './holdoff.ts';
import { HealthChecker } from './health/health-checker.ts';
import { probe } from './health/probe.ts';
import { endpointKey } from '../dataplane/balancer/endpoint-health.ts';
import { authority } from '../dataplane/proxy/authority.ts';
import { TlsControl } from './tls/tls-control.ts';
import { WorkerPool, type WorkerState } from './worker-pool.ts';

export interface Controller {
  readonly pool: WorkerPool;
  readonly adminPort: number;
  table(): RouteTable | null;
  endpoints(): EndpointTable | null;
  conditions(): readonly Condition[];
  /** Resolves once every worker serves the latest state; rejects if the pool failed. */
  settled(): Promise<void>;
  /** Rejects when the data plane cannot run (a port already in use). */
  readonly failed: Promise<never>;
  /**
   * SIGTERM: /readyz answers 503 at once, the listeners keep serving for `delayMs` (while load
   * balancers and the endpoints controller take the replica out), then the workers drain in-flight
   * requests and stop. Safe to call twice (the first call's delay holds).
   */
  close(delayMs?: number): Promise<void>;
}

/** What else wants each compile result (Kubernetes mode: status and Events). */
export interface ControllerHooks {
  onCompiled?(snapshot: Snapshot, result: CompileResult): void;
  /** The conditions changed between compiles (an ACME order failed or recovered). */
  onConditions?(snapshot: Snapshot, conditions: readonly Condition[]): void;
  /** Kubernetes mode: whether this replica holds the Lease (the dashboard shows it; gatehouse_leader). */
  leader?(): boolean;
}

export async function startController(options: Options, source: Source, rootLog: Log, hooks: ControllerHooks = {}, acme: AcmeService | null = null): Promise<Controller> {
  const log = rootLog.child({ component: 'controller' });
  const snapshot = new Snapshot();
  const copts = compileOptions(options);
  const memo = new CompileMemo();
  let table: RouteTable | null = null;
  /** close() began: not ready, whatever the pool says. */
  let stopping = false;
  let endpoints: EndpointTable | null = null;
  let conditions: readonly Condition[] = [];
  let pending: Change = 'none';
  let synced = false;
  const compileSeconds = new Histogram(COMPILE_BUCKETS);

  const pool = new WorkerPool(
    {
      httpPort: options.httpPort,
      httpsPort: options.httpsPort,
      bindAddress: options.bindAddress,
      maxRequestHeaders: options.maxRequestHeaders,
      maxRequestHeaderBytes: options.maxRequestHeaderBytes,
      logLevel: options.logLevel,
      httpsRedirectPort: options.httpsRedirectPort,
      hsts: options.hsts ? { maxAge: options.hstsMaxAge, includeSubDomains: options.hstsIncludeSubdomains, preload: options.hstsPreload } : null,
      observe: { metrics: options.enableMetrics, accessLogSample: options.accessLogSample, accessLogPath: options.accessLogPath, otlpEndpoint: options.otlpEndpoint, otlpSampleRatio: options.otlpSampleRatio },
    },
    options.workers,
    rootLog.child({ component: 'pool' }),
  );

  // Certificates: each table's TLS Secrets are read and checked here, off the workers; the
  // material, and the rotating session-ticket keys, travel to the workers as data.
  let compiled: readonly Condition[] = [];
  /** The fingerprint of the TLS material the workers were last sent. */
  let tlsSent: string | null = null;
  const tls = new TlsControl({
    secret: (namespace, name) => snapshot.get('Secret', namespace, name),
    secretRevision: () => snapshot.revision('Secret'),
    log,
    onChange: (update) =>
      enqueue(async () => {
        pool.publish(update);
        if (update.tls) {
          tlsSent = update.tls.fingerprint;
          // A certificate expired between compiles: its condition goes out like any other.
          setConditions(compiled);
          hooks.onConditions?.(snapshot, conditions);
        }
      }),
  });
  pool.publish({ ticketKeys: tls.ticketKeys() });

  // Updates go out in order, each once the certificates of its table are resolved.
  let queue = Promise.resolve();
  const enqueue = (step: () => Promise<void>) => {
    queue = queue.then(step).catch((err: unknown) => log.error({ err }, 'could not publish an update'));
  };

  /** What the endpoints were last resolved from: the EndpointSlices' revision and the table's backends. */
  let resolvedFrom: { slices: number; backends: RouteTable['backends'] } | null = null;
  const sameBackends = (a: RouteTable['backends'], b: RouteTable['backends']) => {
    const ids = Object.keys(a);
    // Mostly the same objects; a group compile assembled again has new ones, alike or not.
    return ids.length === Object.keys(b).length && ids.every((id) => a[id] === b[id] || (b[id] !== undefined && JSON.stringify(a[id]) === JSON.stringify(b[id])));
  };

  const recompute = () =>
    enqueue(async () => {
      const change = pending;
      pending = 'none';
      const update: Partial<WorkerState> = {};
      let result: CompileResult | null = null;
      if (change === 'routes' || table === null) {
        const started = performance.now();
        result = compile(snapshot, copts, (table?.generation ?? 0) + 1, memo);
        compileSeconds.observe((performance.now() - started) / 1000);
        if (result.table.fingerprint !== table?.fingerprint) {
          const material = await tls.resolve(result.table);
          // The workers keep the material they have: it goes out again only when it changed (all the certificates, at 10,000 hosts, are megabytes per worker).
          if (material.fingerprint !== tlsSent) update.tls = material;
          table = update.table = result.table;
          log.info({ generation: table.generation, hosts: table.hosts.length, compileMs: +(performance.now() - started).toFixed(2) }, 'route table published');
        }
        compiled = result.conditions;
        acme?.update(result.acme);
        setConditions(compiled);
      }
      // The same backends (compile keeps the objects of those unchanged) and EndpointSlices give the same endpoints.
      const slices = snapshot.revision('EndpointSlice');
      if (resolvedFrom === null || resolvedFrom.slices !== slices || !sameBackends(resolvedFrom.backends, table!.backends)) {
        const next = resolveEndpoints(snapshot, table!.backends);
        resolvedFrom = { slices, backends: table!.backends };
        if (next.fingerprint !== endpoints?.fingerprint) endpoints = update.endpoints = next;
      }
      if (update.table || update.endpoints) {
        pool.publish(update);
        if (update.tls) tlsSent = update.tls.fingerprint;
        health.update(table!, endpoints!);
      }
      // Status and Events once the workers have the table (they walk every Ingress).
      if (result !== null) hooks.onCompiled?.(snapshot, { ...result, conditions });
    });

  // Active health checks: once per replica, here; their verdict travels beside the endpoints.
  const health = new HealthChecker({
    probe,
    onChange: (verdict) =>
      enqueue(async () => {
        log.info({ down: verdict.down }, 'active health checks: endpoints down changed');
        pool.publish({ health: verdict });
      }),
  });

  /** Passive health as the workers' shared table has it: per backend with a policy, each endpoint's failures and ejection. */
  const passiveHealth = () => {
    const out: Record<string, { endpoint: string; failures: number; ejections: number; ejectedForMs: number }[]> = {};
    for (const [id, b] of Object.entries(table?.backends ?? {})) {
      if (!b.health?.passive) continue;
      out[id] = (endpoints?.backends[id] ?? []).map((e) => ({ endpoint: endpointKey(e), ...(pool.ejections.entry(pool.ejections.key(id, endpointKey(e))) ?? { failures: 0, ejections: 0, ejectedForMs: 0 }) }));
    }
    return out;
  };

  /** Endpoints of backends with health checks: up unless an active check or passive ejection says down (/metrics). */
  const endpointHealth = (): EndpointHealthSample[] => {
    const out: EndpointHealthSample[] = [];
    const active = health.status();
    for (const [id, b] of Object.entries(table?.backends ?? {})) {
      if (b.health === undefined) continue;
      const checks = new Map((active[id] ?? []).map((s) => [s.endpoint, s.healthy]));
      for (const e of endpoints?.backends[id] ?? []) {
        const key = endpointKey(e);
        const passive = b.health.passive ? pool.ejections.entry(pool.ejections.key(id, key)) : undefined;
        out.push({ backend: id, endpoint: authority(e), healthy: checks.get(key) !== false && !(passive !== undefined && passive.ejectedForMs > 0), ejections: passive?.ejections ?? 0 });
      }
    }
    return out;
  };

  /** The /metrics text: the workers' request metrics and the control plane's state. */
  const metrics = (): string =>
    renderMetrics(options.enableMetrics ? pool.metrics : null, pool.series.labels(), {
      generation: table?.generation ?? 0,
      compile: compileSeconds.read(),
      applies: pool.applies,
      lastApply: pool.lastApply / 1000,
      conditions,
      leader: hooks.leader?.() ?? null,
      certificates: Object.fromEntries(tls.served().map((c) => [c.secret, c.notAfter])),
      endpoints: Object.fromEntries(Object.entries(endpoints?.backends ?? {}).map(([id, list]) => [id, list.length])),
      endpointHealth: endpointHealth(),
      workers: options.workers,
    });

  /** Compile's conditions and the TLS checks' together, sorted; new ones are logged once. */
  const setConditions = (fromCompile: readonly Condition[]) => {
    const next = sortConditions([...fromCompile, ...tls.conditions(), ...(acme?.conditions() ?? [])]);
    const before = new Set(conditions.map(conditionKey));
    for (const c of next) {
      if (!before.has(conditionKey(c))) log.warn({ object: `${c.ref.kind}/${c.ref.namespace ? `${c.ref.namespace}/` : ''}${c.ref.name}`, code: c.code, field: c.field }, c.message);
    }
    conditions = next;
  };

  // ACME HTTP-01 tokens travel to every worker as data, versioned; resolves once all serve them.
  let challengeVersion = 0;
  const serveChallenges = (tokens: Readonly<Record<string, string>>): Promise<void> => {
    const challenges = { version: ++challengeVersion, tokens: { ...tokens } };
    return new Promise<void>((resolve) =>
      enqueue(async () => {
        pool.publish({ challenges });
        resolve();
      }),
    ).then(() => Promise.race([pool.settled(), failed]));
  };

  const holdoff = new Holdoff(recompute);
  const mark = (change: Change) => {
    if (change === 'none') return;
    pending = mergeChange(pending, change);
    if (synced) holdoff.trigger();
  };
  const sink: SourceSink = {
    upsert: (o) => mark(snapshot.upsert(o)),
    remove: (kind, ns, name) => mark(snapshot.remove(kind, ns, name)),
    synced: () => {
      // A later batch is complete (the manifest source's scan): no need to wait out the holdoff.
      if (synced) {
        if (pending === 'none') return;
        holdoff.cancel();
      }
      synced = true;
      recompute();
    },
  };

  const failed = new Promise<never>((_, reject) => pool.once('fatal', reject));
  failed.catch(() => undefined);

  // What /debug/explain and /debug/state read: the served table and the live health beside it.
  const explainState = () =>
    table === null
      ? null
      : { table, endpoints, conditions, ingresses: snapshot.list('Ingress'), httpsRedirectPort: options.httpsRedirectPort, active: health.status(), passive: passiveHealth() };

  // The admin server comes first: /healthz answers (and /readyz says 503) while the source
  // is still syncing, for instance while the API server is unreachable at start.
  const admin: AdminServer = await startAdminServer(
    {
      ready: () => !stopping && pool.ready(),
      readiness: () => ({ ready: !stopping && pool.ready(), ...(stopping ? { stopping } : {}), generation: table?.generation ?? 0, workers: pool.status() }),
      metrics,
      debugTable: () => ({ table, endpoints, conditions, workers: pool.status(), limits: pool.limits.counters(), health: { active: health.status(), passive: passiveHealth() } }),
      explainState,
      dashboardState: () => {
        const s = explainState();
        if (s === null) return { generation: 0, ready: false, hosts: [], backends: [], conditions, certificates: [] };
        return dashboardState({ ...s, ready: !stopping && pool.ready(), leader: hooks.leader?.() ?? null, workers: pool.status(), certificates: tls.served(), now: Date.now() });
      },
    },
    options.statusPort,
    statusBindAddresses(options),
  ).catch(async (err: unknown) => {
    await pool.drain(0);
    throw err;
  });
  try {
    // ACME first: the certificates it keeps (local mode) are in the snapshot for the first table.
    await acme?.start({
      upsert: sink.upsert,
      secret: (namespace, name) => snapshot.get('Secret', namespace, name),
      serveChallenges,
      conditionsChanged: () => {
        setConditions(compiled);
        hooks.onConditions?.(snapshot, conditions);
      },
    });
    await source.start(sink);
  } catch (err) {
    await acme?.close();
    await source.close();
    await pool.drain(0);
    await admin.close();
    throw err;
  }

  let closing: Promise<void> | null = null;
  const controller: Controller = {
    pool,
    adminPort: admin.port,
    table: () => table,
    endpoints: () => endpoints,
    conditions: () => conditions,
    failed,
    settled: () => Promise.race([pool.settled(), failed]),
    close: (delayMs = 0) =>
      (closing ??= (async () => {
        stopping = true;
        if (delayMs > 0) await new Promise((r) => setTimeout(r, delayMs));
        holdoff.cancel();
        health.close();
        tls.close();
        await acme?.close();
        await source.close();
        await pool.drain(options.shutdownGracePeriod * 1000);
        await admin.close();
      })()),
  };
  return controller;
}
