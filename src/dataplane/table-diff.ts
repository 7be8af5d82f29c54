// A new route table as the change from the previous one: the hosts and backends added or changed,
// the names of those removed, and the table's other fields whole. The control plane sends this
// instead of the whole table (DESIGN.md "Data flow" 5: still plain data), so that a change to one
// Ingress costs the same at 10 and at 10,000 hosts: a structured clone of 10,000 hosts per worker
// per change is gone, and the worker keeps the VirtualHost objects, and so the built matchers
// (router.ts), of every host the change did not touch. Hosts and backends are compared by their
// JSON, kept per table by `TableDiffer` (compile builds every object afresh, so identity says
// nothing on the control plane's side).

import type { Backend, RouteTable, VirtualHost } from '../core/model.ts';

export interface TableDiff {
  /** The generation of the table this applies to. */
  readonly base: number;
  /** The new table, less its hosts and backends. */
  readonly table: Omit<RouteTable, 'hosts' | 'backends'>;
  /** Hosts added or changed, sorted by host. */
  readonly hosts: readonly VirtualHost[];
  /** Host names removed. */
  readonly removedHosts: readonly string[];
  /** Backends added or changed, by id. */
  readonly backends: Readonly<Record<string, Backend>>;
  /** Backend ids removed. */
  readonly removedBackends: readonly string[];
}

/** Each host's and backend's JSON in one table. */
interface Encoded {
  readonly generation: number;
  readonly hosts: ReadonlyMap<string, string>;
  readonly backends: ReadonlyMap<string, string>;
}

function encode(table: RouteTable): Encoded {
  return {
    generation: table.generation,
    hosts: new Map(table.hosts.map((vh) => [vh.host, JSON.stringify(vh)])),
    backends: new Map(Object.entries(table.backends).map(([id, b]) => [id, JSON.stringify(b)])),
  };
}

/** What changed from one table to the next, key by key. */
function changes<T>(before: ReadonlyMap<string, string>, after: ReadonlyMap<string, string>, value: (key: string) => T): { changed: [string, T][]; removed: string[] } {
  const changed: [string, T][] = [];
  for (const [key, json] of after) if (before.get(key) !== json) changed.push([key, value(key)]);
  const removed = [...before.keys()].filter((key) => !after.has(key));
  return { changed, removed };
}

/** Remembers the last table it saw, and says how the next one differs from it. */
export class TableDiffer {
  #last: Encoded | null = null;

  /** The diff from the table last given to `next`'s, or null when there was none; `next` becomes the last. */
  diff(next: RouteTable): TableDiff | null {
    const before = this.#last;
    const after = encode(next);
    this.#last = after;
    if (before === null) return null;
    const byHost = new Map(next.hosts.map((vh) => [vh.host, vh]));
    const hosts = changes(before.hosts, after.hosts, (h) => byHost.get(h)!);
    const backends = changes(before.backends, after.backends, (id) => next.backends[id]!);
    const { hosts: _h, backends: _b, ...rest } = next;
    return { base: before.generation, table: rest, hosts: hosts.changed.map(([, vh]) => vh), removedHosts: hosts.removed, backends: Object.fromEntries(backends.changed), removedBackends: backends.removed };
  }
}

function byKey(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * The table `diff` describes, from `table` (of generation `diff.base`): the unchanged hosts and
 * backends are `table`'s own objects. Hosts sorted by host, backends by id, as compile gives them.
 */
export function applyTableDiff(table: RouteTable, diff: TableDiff): RouteTable {
  if (table.generation !== diff.base) throw new Error(`table diff for generation ${diff.base} applied to generation ${table.generation}`);
  const hosts = new Map(table.hosts.map((vh) => [vh.host, vh]));
  for (const h of diff.removedHosts) hosts.delete(h);
  for (const vh of diff.hosts) hosts.set(vh.host, vh);
  const backends: Record<string, Backend> = { ...table.backends };
  for (const id of diff.removedBackends) delete backends[id];
  Object.assign(backends, diff.backends);
  const sortedBackends: Record<string, Backend> = {};
  for (const id of Object.keys(backends).sort(byKey)) sortedBackends[id] = backends[id]!;
  // In compile's key order, so the two print alike.
  const { generation, fingerprint, defaultBackend, ...rest } = diff.table;
  return { generation, fingerprint, hosts: [...hosts.values()].sort((a, b) => byKey(a.host, b.host)), defaultBackend, backends: sortedBackends, ...rest };
}
