// Keyed Kubernetes objects as the sources deliver them. Sources call upsert/remove; the
// answer says whether routes or only endpoints need recomputing (DESIGN.md, habit 6).

import type { Kind } from './model.ts';

export const KINDS: readonly Kind[] = ['Ingress', 'IngressClass', 'Service', 'EndpointSlice', 'Secret', 'ConfigMap'];

/** The parts of metadata the controller reads. Anything may be missing or wrong in input. */
export interface ObjectMeta {
  readonly name: string;
  readonly namespace: string;
  readonly creationTimestamp?: string;
  readonly annotations?: Readonly<Record<string, unknown>>;
  readonly labels?: Readonly<Record<string, unknown>>;
  readonly resourceVersion?: string;
  readonly uid?: string;
}

/** A Kubernetes object that passed the structural check of `toKubeObject`. */
export interface KubeObject {
  readonly apiVersion: string;
  readonly kind: Kind;
  readonly metadata: ObjectMeta;
  readonly spec?: unknown;
  readonly status?: unknown;
  readonly [field: string]: unknown;
}

export type Checked = { readonly ok: true; readonly object: KubeObject } | { readonly ok: false; readonly reason: string; readonly ignored?: boolean };

const CLUSTER_SCOPED: ReadonlySet<Kind> = new Set(['IngressClass']);
const NAME = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Checks the envelope of a parsed object. Kinds we do not watch come back as `ignored`;
 * a malformed envelope comes back with a reason. Namespaced objects without a namespace
 * land in `default`, as kubectl would put them.
 */
export function toKubeObject(raw: unknown): Checked {
  if (!isRecord(raw)) return { ok: false, reason: 'not a mapping' };
  const { apiVersion, kind, metadata } = raw;
  if (typeof apiVersion !== 'string' || apiVersion === '') return { ok: false, reason: 'apiVersion is missing or not a string' };
  if (typeof kind !== 'string' || kind === '') return { ok: false, reason: 'kind is missing or not a string' };
  if (!(KINDS as readonly string[]).includes(kind)) return { ok: false, reason: `kind ${kind} is not watched`, ignored: true };
  if (!isRecord(metadata)) return { ok: false, reason: 'metadata is missing or not a mapping' };
  const { name, namespace } = metadata;
  if (typeof name !== 'string' || !NAME.test(name)) return { ok: false, reason: `metadata.name ${JSON.stringify(name)} is not a valid name` };
  if (namespace !== undefined && (typeof namespace !== 'string' || !NAME.test(namespace))) {
    return { ok: false, reason: `metadata.namespace ${JSON.stringify(namespace)} is not a valid namespace` };
  }
  for (const field of ['annotations', 'labels'] as const) {
    if (metadata[field] !== undefined && metadata[field] !== null && !isRecord(metadata[field])) {
      return { ok: false, reason: `metadata.${field} is not a mapping` };
    }
  }
  const k = kind as Kind;
  const ns = CLUSTER_SCOPED.has(k) ? '' : (namespace as string | undefined) ?? 'default';
  return { ok: true, object: { ...raw, apiVersion, kind: k, metadata: { ...metadata, name, namespace: ns } } as KubeObject };
}

export function objectKey(kind: Kind, namespace: string, name: string): string {
  return namespace === '' ? `${kind}/${name}` : `${kind}/${namespace}/${name}`;
}

/** What a change to the snapshot calls for. */
export type Change = 'routes' | 'endpoints' | 'none';

/**
 * The fields a change to which can alter output; resourceVersion, managedFields and status
 * do not (compile never reads status: our own Ingress status writes must not recompile).
 */
function content(o: KubeObject): string {
  const { metadata, status: _status, ...rest } = o;
  const { resourceVersion: _rv, ...meta } = metadata as ObjectMeta & { managedFields?: unknown };
  delete (meta as { managedFields?: unknown }).managedFields;
  return JSON.stringify([meta, rest]);
}

export class Snapshot {
  private readonly objects = new Map<Kind, Map<string, { object: KubeObject; content: string }>>(KINDS.map((k) => [k, new Map()]));
  private readonly revisions = new Map<Kind, number>(KINDS.map((k) => [k, 0]));
  /**
   * Each kind's keys in order and their objects, once list() asked for them: a changed object takes
   * its place, a key that comes or goes is spliced in or out (found by binary search).
   */
  private readonly sorted = new Map<Kind, { keys: string[]; objects: KubeObject[] }>();

  upsert(object: KubeObject): Change {
    const byKey = this.objects.get(object.kind)!;
    const key = objectKey(object.kind, object.metadata.namespace, object.metadata.name);
    const c = content(object);
    const had = byKey.get(key);
    const unchanged = had?.content === c;
    // Keep the newest object even when nothing that matters changed: get() must hand out
    // the current resourceVersion (status writes use it for optimistic concurrency).
    byKey.set(key, { object, content: c });
    const sorted = this.sorted.get(object.kind);
    if (sorted !== undefined) {
      const at = search(sorted.keys, key);
      if (at >= 0) sorted.objects[at] = object;
      else {
        sorted.keys.splice(~at, 0, key);
        sorted.objects.splice(~at, 0, object);
      }
    }
    if (unchanged) return 'none';
    this.bump(object.kind);
    return changeFor(object.kind);
  }

  remove(kind: Kind, namespace: string, name: string): Change {
    const key = objectKey(kind, namespace, name);
    if (!this.objects.get(kind)!.delete(key)) return 'none';
    const sorted = this.sorted.get(kind);
    if (sorted !== undefined) {
      const at = search(sorted.keys, key);
      sorted.keys.splice(at, 1);
      sorted.objects.splice(at, 1);
    }
    this.bump(kind);
    return changeFor(kind);
  }

  /** Counts the changes to objects of `kind` that matter (as upsert and remove answer them): equal twice, none between. */
  revision(kind: Kind): number {
    return this.revisions.get(kind)!;
  }

  private bump(kind: Kind): void {
    this.revisions.set(kind, this.revisions.get(kind)! + 1);
  }

  get(kind: Kind, namespace: string, name: string): KubeObject | undefined {
    return this.objects.get(kind)!.get(objectKey(kind, namespace, name))?.object;
  }

  /** Every object of a kind, in key order (output never depends on arrival order); a copy. */
  list(kind: Kind): KubeObject[] {
    let sorted = this.sorted.get(kind);
    if (sorted === undefined) {
      const byKey = this.objects.get(kind)!;
      const keys = [...byKey.keys()].sort();
      this.sorted.set(kind, (sorted = { keys, objects: keys.map((k) => byKey.get(k)!.object) }));
    }
    return sorted.objects.slice();
  }

  /** Keys of every object, for sources that replace their whole set at once. */
  keys(): Array<{ kind: Kind; namespace: string; name: string }> {
    const out: Array<{ kind: Kind; namespace: string; name: string }> = [];
    for (const [kind, byKey] of this.objects) {
      for (const { object } of byKey.values()) out.push({ kind, namespace: object.metadata.namespace, name: object.metadata.name });
    }
    return out;
  }
}

/** Index of `key` in the ascending `keys`, or, when it is not there, ~ the index it would go to. */
function search(keys: readonly string[], key: string): number {
  let lo = 0;
  let hi = keys.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    const k = keys[mid]!;
    if (k === key) return mid;
    if (k < key) lo = mid + 1;
    else hi = mid - 1;
  }
  return ~lo;
}

function changeFor(kind: Kind): Change {
  return kind === 'EndpointSlice' ? 'endpoints' : 'routes';
}

/** Combine two changes: routes dominate endpoints, which dominate none. */
export function mergeChange(a: Change, b: Change): Change {
  if (a === 'routes' || b === 'routes') return 'routes';
  if (a === 'endpoints' || b === 'endpoints') return 'endpoints';
  return 'none';
}
