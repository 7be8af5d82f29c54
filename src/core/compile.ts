// compile(snapshot, options) → route table + conditions. Pure: no I/O, no clocks, no
// randomness; never throws on user input (a bad object becomes a condition and is left
// out); output is sorted, frozen and fingerprinted (DESIGN.md "Data flow", step 3).

import type { Backend, CompileOptions, Condition, Route, RouteTable, VirtualHost } from './model.ts';
import type { KubeObject, Snapshot } from './snapshot.ts';
import { ownedIngresses } from './processors/ingress-class.ts';
import { condition, readIngress, type IngressOutput } from './processors/ingress.ts';
import { backendId, resolveBackend, resolveDefaultBackendService } from './processors/services.ts';
import { deepFreeze, fingerprint } from './hash.ts';

export interface CompileResult {
  readonly table: RouteTable;
  readonly conditions: readonly Condition[];
  /** `namespace/name` of every Ingress this controller owns, sorted (for status writes). */
  readonly ingresses: readonly string[];
}

function ingressKey(ing: KubeObject): string {
  return `${ing.metadata.namespace}/${ing.metadata.name}`;
}

/** RFC 3339 as the API server writes it (second precision, `Z`), so strings order by time. */
function created(o: KubeObject): string {
  const t: unknown = o.metadata.creationTimestamp;
  // Missing, empty or not a string (hand-written manifests): sorts after every real timestamp.
  return typeof t === 'string' && t !== '' ? t : '~';
}

/** Oldest creationTimestamp first, then namespace/name; objects without one count as newest. */
function age(a: KubeObject, b: KubeObject): number {
  const ta = created(a);
  const tb = created(b);
  if (ta !== tb) return ta < tb ? -1 : 1;
  const ka = ingressKey(a);
  const kb = ingressKey(b);
  return ka < kb ? -1 : ka > kb ? 1 : 0;
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

export function compile(snapshot: Snapshot, options: CompileOptions, generation: number): CompileResult {
  const conditions: Condition[] = [];
  const ingresses = ownedIngresses(snapshot, options).sort(age);
  const read: IngressOutput = { routes: [], defaults: [], hosts: new Set() };
  for (const ing of ingresses) readIngress(ing, read, conditions);

  // Backends, each resolved once; a problem is reported once per Ingress and backend.
  const backends: Record<string, Backend> = {};
  const reported = new Set<string>();
  const useBackend = (ing: KubeObject, field: string, ref: Parameters<typeof resolveBackend>[1]): string => {
    const id = backendId(ref);
    const { backend, problem } = resolveBackend(snapshot, ref);
    backends[id] = backend;
    if (problem !== null && !reported.has(`${ingressKey(ing)} ${id}`)) {
      reported.add(`${ingressKey(ing)} ${id}`);
      conditions.push(condition(ing, problem.code, field, problem.message));
    }
    return id;
  };

  // Routes: for the same host, path and match type the oldest Ingress wins (stable sort
  // keeps rule order inside one Ingress); the loser gets a condition.
  const winners = new Map<string, { route: Route; field: string }>();
  const byHost = new Map<string, Route[]>();
  for (const c of read.routes) {
    const key = `${c.host} ${c.match} ${c.path}`;
    const won = winners.get(key);
    if (won) {
      conditions.push(condition(c.ingress, 'GH_ROUTE_CONFLICT', c.field,
        `host ${JSON.stringify(c.host)} ${c.match} path ${JSON.stringify(c.path)} is already routed by ${won.route.ingress === ingressKey(c.ingress) ? `this Ingress at ${won.field}` : `Ingress ${won.route.ingress} (${won.field}), which is older`}`));
      continue;
    }
    const route: Route = { path: c.path, match: c.match, backend: useBackend(c.ingress, `${c.field}.backend.service`, c.backend), ingress: ingressKey(c.ingress) };
    winners.set(key, { route, field: c.field });
    const list = byHost.get(c.host);
    if (list) list.push(route);
    else byHost.set(c.host, [route]);
  }

  const defaults = new Map<string, { backend: string; ingress: string }>();
  for (const d of read.defaults) {
    const won = defaults.get(d.host);
    if (won) {
      conditions.push(condition(d.ingress, 'GH_DEFAULT_BACKEND_CONFLICT', d.field,
        `${d.host === '' ? 'the catch-all default backend' : `the default backend of host ${JSON.stringify(d.host)}`} is already set by Ingress ${won.ingress}, which ${won.ingress === ingressKey(d.ingress) ? 'is this one' : 'is older'}`));
      continue;
    }
    defaults.set(d.host, { backend: useBackend(d.ingress, `${d.field}.service`, d.backend), ingress: ingressKey(d.ingress) });
  }

  const hosts: VirtualHost[] = [...read.hosts].sort(cmp).map((host) => ({
    host,
    routes: (byHost.get(host) ?? []).sort((a, b) => cmp(a.path, b.path) || cmp(a.match, b.match)),
    defaultBackend: defaults.get(host)?.backend ?? null,
  }));

  let defaultBackend: string | null = null;
  if (options.defaultBackendService !== null) {
    const b = resolveDefaultBackendService(snapshot, options.defaultBackendService, conditions);
    backends[b.id] = b;
    defaultBackend = b.id;
  }

  const sortedBackends: Record<string, Backend> = {};
  for (const id of Object.keys(backends).sort()) sortedBackends[id] = backends[id]!;
  const body = { hosts, defaultBackend, backends: sortedBackends };
  const table: RouteTable = { generation, fingerprint: fingerprint(JSON.stringify(body)), ...body };
  conditions.sort((a, b) => cmp(`${a.ref.kind}/${a.ref.namespace}/${a.ref.name}`, `${b.ref.kind}/${b.ref.namespace}/${b.ref.name}`) || cmp(a.field, b.field) || cmp(a.code, b.code));
  return { table: deepFreeze(table), conditions: deepFreeze(conditions), ingresses: Object.freeze(ingresses.map(ingressKey).sort(cmp)) };
}
