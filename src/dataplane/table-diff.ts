// A new route table as the change from the previous one: the hosts, TLS bindings and backends added
// or changed, the names of those removed, and the table's other fields whole. The control plane sends this
// instead of the whole table (DESIGN.md "Data flow" 5: still plain data), so that a change to one
// Ingress costs the same at 10 and at 10,000 hosts: a structured clone of 10,000 hosts per worker
// per change is gone, and the worker keeps the VirtualHost objects, and so the built matchers
// (router.ts), of every host the change did not touch. Hosts and backends are compared as data
// with the previous table's; compile with a memo keeps the objects of the hosts a change did not
// touch, so most compare by identity, walking the two sorted lists side by side.

import type { Backend, RouteTable, TlsBinding, VirtualHost } from '../core/model.ts';
import { indexOfHost, insertionPoint } from '../core/sorted.ts';

export { indexOfHost };

export interface TableDiff {
  /** The generation of the table this applies to. */
  readonly base: number;
  /** The new table, less its hosts, backends and TLS bindings. */
  readonly table: Omit<RouteTable, 'hosts' | 'backends' | 'tls'>;
  /** Hosts added or changed, sorted by host. */
  readonly hosts: readonly VirtualHost[];
  /** Host names removed. */
  readonly removedHosts: readonly string[];
  /** TLS bindings added or changed, sorted by host. */
  readonly tls: readonly TlsBinding[];
  /** The hosts of the TLS bindings removed. */
  readonly removedTls: readonly string[];
  /** Backends added or changed, by id. */
  readonly backends: Readonly<Record<string, Backend>>;
  /** Backend ids removed. */
  readonly removedBackends: readonly string[];
}

/** Equal plain data (what compile builds: objects, arrays, strings, numbers, booleans, null), key order aside. */
function same(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!same(a[i], b[i])) return false;
    return true;
  }
  const ka = Object.keys(a);
  if (ka.length !== Object.keys(b).length) return false;
  for (const k of ka) if (!Object.hasOwn(b, k) || !same((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k])) return false;
  return true;
}

/** Whether the keys of `list` ascend strictly (compile sorts hosts by host and backends by id). */
function ascending<T>(list: readonly T[], key: (v: T) => string): boolean {
  for (let i = 1; i < list.length; i++) if (!(key(list[i - 1]!) < key(list[i]!))) return false;
  return true;
}

/** The lists seen to ascend (the last table's hosts are the next diff's `before`). */
const ascend = new WeakSet<readonly unknown[]>();

/**
 * What changed from one list to the next, both sorted by `key`, walked side by side; null when
 * either does not ascend. A run of the same objects in both costs an identity check each: `after`
 * is checked to ascend where it leaves `before`'s order only.
 */
function sortedChanges<T>(before: readonly T[], after: readonly T[], key: (v: T) => string): { changed: T[]; removed: string[] } | null {
  if (!ascend.has(before)) {
    if (!ascending(before, key)) return null;
    ascend.add(before);
  }
  const changed: T[] = [];
  const removed: string[] = [];
  let i = 0;
  let j = 0;
  /** after[j - 1] came with before[i - 1]: the same object. */
  let kept = false;
  /** Takes after[j]; false when it does not come after after[j - 1]. */
  const take = (same: boolean): boolean => {
    const ok = j === 0 || (same && kept) || key(after[j - 1]!) < key(after[j]!);
    kept = same;
    j++;
    return ok;
  };
  while (i < before.length || j < after.length) {
    const a = before[i];
    const b = after[j];
    if (a !== undefined && a === b) {
      i++;
      if (!take(true)) return null;
    } else if (b === undefined || (a !== undefined && key(a) < key(b))) {
      removed.push(key(a!));
      i++;
    } else if (a === undefined || key(b) < key(a)) {
      changed.push(b);
      if (!take(false)) return null;
    } else {
      if (!same(a, b)) changed.push(b);
      i++;
      if (!take(false)) return null;
    }
  }
  ascend.add(after);
  return { changed, removed };
}

/** What changed from one list to the next, entries by `key`: walked side by side when both are sorted by it. */
function changes<T>(before: readonly T[], after: readonly T[], key: (v: T) => string): { changed: T[]; removed: string[] } {
  const sorted = sortedChanges(before, after, key);
  if (sorted !== null) return sorted;
  const changed: T[] = [];
  const removed: string[] = [];
  const was = new Map(before.map((v) => [key(v), v]));
  const is = new Set(after.map(key));
  for (const v of after) if (!same(was.get(key(v)), v)) changed.push(v);
  for (const k of was.keys()) if (!is.has(k)) removed.push(k);
  return { changed, removed };
}

const hostName = (v: { readonly host: string }) => v.host;

/** The hosts added or changed (as data) from `before` to `after`, and the names removed; null unless both are sorted by host (as compile gives them). */
export function hostChanges(before: readonly VirtualHost[], after: readonly VirtualHost[]): { changed: VirtualHost[]; removed: string[] } | null {
  return sortedChanges(before, after, hostName);
}

/** Remembers the last table it saw, and says how the next one differs from it. */
export class TableDiffer {
  #last: RouteTable | null = null;

  /** The diff from the table last given to `next`'s, or null when there was none; `next` becomes the last. */
  diff(next: RouteTable): TableDiff | null {
    const before = this.#last;
    this.#last = next;
    if (before === null) return null;
    const hosts = changes(before.hosts, next.hosts, hostName);
    const tls = changes(before.tls, next.tls, hostName);
    const backends = changes(Object.values(before.backends), Object.values(next.backends), (b) => b.id);
    const { hosts: _h, backends: _b, tls: _t, ...rest } = next;
    return { base: before.generation, table: rest, hosts: hosts.changed, removedHosts: hosts.removed, tls: tls.changed, removedTls: tls.removed, backends: Object.fromEntries(backends.changed.map((b) => [b.id, b])), removedBackends: backends.removed };
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
  const hosts = spliceHosts(table.hosts, diff.hosts, diff.removedHosts) ?? rebuildHosts(table.hosts, diff.hosts, diff.removedHosts);
  const tls = spliceHosts(table.tls, diff.tls, diff.removedTls) ?? rebuildHosts(table.tls, diff.tls, diff.removedTls);
  return assemble(diff, hosts, tls, table.backends);
}

/** The hosts (or bindings) a diff makes of `hosts` (sorted by host): a copy with those `removed` taken out and `changed` replaced or added by binary search; null when `hosts` does not ascend. */
export function spliceHosts<T extends { readonly host: string }>(hosts: readonly T[], changed: readonly T[], removed: readonly string[]): T[] | null {
  if (!ascend.has(hosts)) {
    if (!ascending(hosts, hostName)) return null;
    ascend.add(hosts);
  }
  const out = hosts.slice();
  for (const host of removed) {
    const at = indexOfHost(out, host);
    if (at !== -1) out.splice(at, 1);
  }
  for (const vh of changed) {
    const at = insertionPoint(out, vh.host);
    if (out[at]?.host === vh.host) out[at] = vh;
    else out.splice(at, 0, vh);
  }
  ascend.add(out);
  return out;
}

/** Hosts that do not ascend (a hand-made table): merged by name, and sorted. */
function rebuildHosts<T extends { readonly host: string }>(table: readonly T[], changed: readonly T[], removed: readonly string[]): T[] {
  const hosts = new Map(table.map((vh) => [vh.host, vh]));
  for (const h of removed) hosts.delete(h);
  for (const vh of changed) hosts.set(vh.host, vh);
  return [...hosts.values()].sort((a, b) => byKey(a.host, b.host));
}

/** The new table: `diff`'s fields, these hosts and TLS bindings (sorted), and `before`'s backends with the diff's changes. */
function assemble(diff: TableDiff, sortedHosts: VirtualHost[], tls: TlsBinding[], before: RouteTable['backends']): RouteTable {
  // Backends by id, in order: sorted again only when one was added or removed.
  let ids = Object.keys(before);
  const added = Object.keys(diff.backends).filter((id) => before[id] === undefined);
  if (added.length > 0 || diff.removedBackends.length > 0) {
    const removed = new Set(diff.removedBackends);
    ids = [...ids.filter((id) => !removed.has(id)), ...added].sort(byKey);
  }
  const backends: Record<string, Backend> = {};
  for (const id of ids) backends[id] = diff.backends[id] ?? before[id]!;
  // In compile's key order, so the two print alike.
  const { generation, fingerprint, defaultBackend, ...rest } = diff.table;
  return { generation, fingerprint, hosts: sortedHosts, defaultBackend, backends, tls, ...rest };
}
