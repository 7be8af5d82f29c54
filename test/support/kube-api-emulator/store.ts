// The emulator's etcd: every object of every served type, one global monotonically increasing
// revision (the resourceVersion of every write, as etcd's mod_revision), an event log for watches
// to replay from a resourceVersion, and a compaction point below which replay answers 410.
//
// The REST semantics of k8s.io/apiserver's generic registry live here too: create sets uid,
// creationTimestamp, resourceVersion and generation; update checks metadata.resourceVersion
// (409 Conflict), keeps what is immutable, bumps generation when the spec changes, and writes
// nothing (no new resourceVersion, no event) when nothing changed; the status subresource and the
// main resource each write only their half; delete emits the last state with a new resourceVersion.
// Stored objects are deep-frozen; everything handed out is a copy or is never mutated.

import { randomUUID } from 'node:crypto';
import { deepEqual } from './patch.ts';
import type { Obj, ResourceType } from './resources.ts';
import { alreadyExists, badRequest, conflict, error, invalid, notFound } from './status.ts';

export type EventType = 'ADDED' | 'MODIFIED' | 'DELETED';

export interface StoreEvent {
  readonly rv: number;
  readonly resource: ResourceType;
  readonly type: EventType;
  /** The object after the change; for DELETED, the last state with the deletion's resourceVersion. */
  readonly object: Obj;
  /** The object before the change (MODIFIED, DELETED). */
  readonly old?: Obj;
}

/**
 * What an update writes: `main` = the resource itself (status kept as stored when the type has a
 * status subresource), `status` = the `/status` subresource (only status is taken from the body),
 * `all` = everything in the body (the emulator's direct-access API, for seeding status).
 */
export type UpdateMode = 'main' | 'status' | 'all';

export interface WriteOptions {
  readonly dryRun?: boolean;
}

export interface Preconditions {
  readonly uid?: string;
  readonly resourceVersion?: string;
}

const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const GENERATE_ALPHABET = 'bcdfghjklmnpqrstvwxz2456789';

function isObject(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function meta(obj: Obj): Obj {
  return isObject(obj.metadata) ? obj.metadata : {};
}

function deepFreeze<T>(v: T): T {
  if (typeof v === 'object' && v !== null && !Object.isFrozen(v)) {
    Object.freeze(v);
    for (const child of Object.values(v)) deepFreeze(child);
  }
  return v;
}

/** Drops null, undefined, {} and [] so `status: {}` equals no status, as Go's omitempty decoding does. */
function pruned(v: unknown): unknown {
  if (Array.isArray(v)) {
    const a = v.map(pruned).filter((x) => x !== undefined);
    return a.length ? a : undefined;
  }
  if (isObject(v)) {
    const o: Obj = {};
    for (const [k, x] of Object.entries(v)) {
      const p = pruned(x);
      if (p !== undefined) o[k] = p;
    }
    return Object.keys(o).length ? o : undefined;
  }
  return v === null ? undefined : v;
}

function withoutMetadataAndStatus(obj: Obj, dropStatus: boolean): Obj {
  const { metadata: _m, ...rest } = obj;
  if (dropStatus) delete rest.status;
  return rest;
}

export class Store {
  #rv = 0;
  #compacted = 0;
  readonly #objects = new Map<ResourceType, Map<string, Obj>>();
  readonly #log: StoreEvent[] = [];
  readonly #listeners = new Set<(e: StoreEvent) => void>();
  readonly #clock: () => Date;

  constructor(clock: () => Date = () => new Date()) {
    this.#clock = clock;
  }

  /** The revision of the last write. */
  get revision(): number {
    return this.#rv;
  }

  /** Watches from a resourceVersion older than this answer 410 Gone. */
  get compactedRevision(): number {
    return this.#compacted;
  }

  /** Forgets the event history: any older resourceVersion now answers 410 on watch. */
  compact(): void {
    this.#compacted = this.#rv;
    this.#log.length = 0;
  }

  subscribe(listener: (e: StoreEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Events of one type after `rv`, oldest first; throws 410 below the compaction point. */
  eventsSince(r: ResourceType, rv: number): StoreEvent[] {
    if (rv < this.#compacted) throw error(410, `too old resource version: ${rv} (${this.#compacted})`, 'Expired');
    return this.#log.filter((e) => e.resource === r && e.rv > rv);
  }

  get(r: ResourceType, namespace: string, name: string): Obj | undefined {
    return this.#bucket(r).get(this.#key(r, namespace, name));
  }

  /** Sorted by namespace/name like etcd's key order; all namespaces when `namespace` is undefined. */
  list(r: ResourceType, namespace?: string): Obj[] {
    const out: Array<[string, Obj]> = [];
    for (const [key, obj] of this.#bucket(r)) {
      if (namespace === undefined || !r.namespaced || meta(obj).namespace === namespace) out.push([key, obj]);
    }
    out.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
    return out.map(([, o]) => o);
  }

  keyOf(r: ResourceType, obj: Obj): string {
    return this.#key(r, String(meta(obj).namespace ?? ''), String(meta(obj).name ?? ''));
  }

  create(r: ResourceType, namespace: string, body: unknown, opts: WriteOptions & { keepStatus?: boolean } = {}): Obj {
    if (!isObject(body)) throw badRequest('the request body must be a JSON object');
    this.#checkKind(r, body);
    const m = { ...meta(body) };
    let name = typeof m.name === 'string' ? m.name : '';
    if (!name && typeof m.generateName === 'string' && m.generateName) {
      do {
        let suffix = '';
        for (let i = 0; i < 5; i++) suffix += GENERATE_ALPHABET[Math.floor(Math.random() * GENERATE_ALPHABET.length)];
        name = m.generateName + suffix;
      } while (this.get(r, namespace, name));
    }
    if (!name) throw invalid(r, '', 'metadata.name', 'Required value: name or generateName is required');
    if (name.length > 253 || !DNS_SUBDOMAIN.test(name)) {
      throw invalid(r, name, 'metadata.name', `Invalid value: "${name}": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character`);
    }
    this.#checkNamespace(r, namespace, m);
    if (this.get(r, namespace, name)) throw alreadyExists(r, name);

    const obj = structuredClone(body);
    if (r.statusSubresource && !opts.keepStatus) delete obj.status;
    obj.apiVersion = r.apiVersion;
    obj.kind = r.kind;
    delete m.resourceVersion;
    delete m.deletionTimestamp;
    obj.metadata = {
      ...m,
      name,
      ...(r.namespaced ? { namespace } : {}),
      uid: randomUUID(),
      creationTimestamp: this.#now(),
      generation: 1,
    };
    if (!r.namespaced) delete (obj.metadata as Obj).namespace;
    r.defaults?.(obj);
    if (opts.dryRun) return deepFreeze({ ...obj, metadata: { ...(obj.metadata as Obj), resourceVersion: String(this.#rv) } });
    return this.#commit(r, 'ADDED', obj);
  }

  /**
   * PUT semantics. Returns the stored object and whether it was created (for createOnUpdate
   * types, a PUT to a missing object creates it).
   */
  update(r: ResourceType, namespace: string, name: string, body: unknown, mode: UpdateMode, opts: WriteOptions = {}): { object: Obj; created: boolean } {
    if (!isObject(body)) throw badRequest('the request body must be a JSON object');
    this.#checkKind(r, body);
    const m = meta(body);
    if (m.name !== undefined && m.name !== name) {
      throw badRequest(`the name of the object (${String(m.name)}) does not match the name on the URL (${name})`);
    }
    this.#checkNamespace(r, namespace, m);
    const current = this.get(r, namespace, name);
    if (!current) {
      if (mode === 'status' || !r.createOnUpdate) throw notFound(r, name);
      const { resourceVersion: _rv, ...rest } = m;
      return { object: this.create(r, namespace, { ...body, metadata: { ...rest, name } }, { ...opts, keepStatus: mode === 'all' }), created: true };
    }
    const wanted = m.resourceVersion;
    if (typeof wanted === 'string' && wanted !== '' && wanted !== meta(current).resourceVersion) throw conflict(r, name);

    const cur = meta(current);
    let next: Obj;
    if (mode === 'status') {
      next = structuredClone({ ...current, status: body.status });
      if (body.status === undefined) delete next.status;
    } else {
      next = structuredClone(body);
      if (mode === 'main' && r.statusSubresource) {
        if (current.status === undefined) delete next.status;
        else next.status = structuredClone(current.status);
      }
      next.metadata = {
        ...structuredClone(m),
        name,
        ...(r.namespaced ? { namespace } : {}),
        uid: cur.uid,
        creationTimestamp: cur.creationTimestamp,
        generation: cur.generation,
        resourceVersion: cur.resourceVersion,
      };
      if (cur.deletionTimestamp !== undefined) (next.metadata as Obj).deletionTimestamp = cur.deletionTimestamp;
      else delete (next.metadata as Obj).deletionTimestamp;
    }
    next.apiVersion = r.apiVersion;
    next.kind = r.kind;
    r.defaults?.(next);
    if (deepEqual(pruned(next), pruned(current))) return { object: current, created: false };
    if (mode !== 'status') {
      const specChanged = !deepEqual(pruned(withoutMetadataAndStatus(next, r.statusSubresource)), pruned(withoutMetadataAndStatus(current, r.statusSubresource)));
      if (specChanged) (next.metadata as Obj).generation = Number(cur.generation ?? 0) + 1;
    }
    if (opts.dryRun) return { object: deepFreeze(next), created: false };
    return { object: this.#commit(r, 'MODIFIED', next, current), created: false };
  }

  /** PATCH: `apply` turns a copy of the current object into the patched one; then as update. */
  patch(r: ResourceType, namespace: string, name: string, apply: (current: Obj) => unknown, mode: UpdateMode, opts: WriteOptions = {}): Obj {
    const current = this.get(r, namespace, name);
    if (!current) throw notFound(r, name);
    const patched = apply(structuredClone(current));
    if (!isObject(patched)) throw badRequest('the patched object is not a JSON object');
    return this.update(r, namespace, name, patched, mode, opts).object;
  }

  delete(r: ResourceType, namespace: string, name: string, preconditions: Preconditions = {}, opts: WriteOptions = {}): Obj {
    const current = this.get(r, namespace, name);
    if (!current) throw notFound(r, name);
    const m = meta(current);
    if (preconditions.uid !== undefined && preconditions.uid !== m.uid) {
      throw conflict(r, name, `Precondition failed: UID in precondition: ${preconditions.uid}, UID in object meta: ${String(m.uid)}`);
    }
    if (preconditions.resourceVersion !== undefined && preconditions.resourceVersion !== m.resourceVersion) {
      throw conflict(r, name, `Precondition failed: ResourceVersion in precondition: ${preconditions.resourceVersion}, ResourceVersion in object meta: ${String(m.resourceVersion)}`);
    }
    if (opts.dryRun) return current;
    return this.#commit(r, 'DELETED', structuredClone(current), current);
  }

  #commit(r: ResourceType, type: EventType, obj: Obj, old?: Obj): Obj {
    this.#rv++;
    (obj.metadata as Obj).resourceVersion = String(this.#rv);
    const frozen = deepFreeze(obj);
    const key = this.keyOf(r, frozen);
    if (type === 'DELETED') this.#bucket(r).delete(key);
    else this.#bucket(r).set(key, frozen);
    const event: StoreEvent = old ? { rv: this.#rv, resource: r, type, object: frozen, old } : { rv: this.#rv, resource: r, type, object: frozen };
    this.#log.push(event);
    for (const listener of [...this.#listeners]) listener(event);
    return frozen;
  }

  #checkKind(r: ResourceType, body: Obj): void {
    if (body.kind !== undefined && body.kind !== r.kind) throw badRequest(`the kind of the object (${String(body.kind)}) does not match the URL (${r.kind})`);
    if (body.apiVersion !== undefined && body.apiVersion !== r.apiVersion) {
      throw badRequest(`the API version in the data (${String(body.apiVersion)}) does not match the expected API version (${r.apiVersion})`);
    }
  }

  #checkNamespace(r: ResourceType, namespace: string, m: Obj): void {
    if (r.namespaced && m.namespace !== undefined && m.namespace !== '' && m.namespace !== namespace) {
      throw badRequest('the namespace of the provided object does not match the namespace sent on the request');
    }
  }

  #bucket(r: ResourceType): Map<string, Obj> {
    let b = this.#objects.get(r);
    if (!b) this.#objects.set(r, (b = new Map()));
    return b;
  }

  #key(r: ResourceType, namespace: string, name: string): string {
    return r.namespaced ? `${namespace}/${name}` : name;
  }

  #now(): string {
    // RFC 3339 with whole seconds, as metav1.Time marshals.
    return this.#clock().toISOString().replace(/\.\d+Z$/, 'Z');
  }
}
