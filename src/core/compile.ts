// compile(snapshot, options) → route table + conditions. Pure: no I/O, no clocks, no
// randomness; never throws on user input (a bad object becomes a condition and is left
// out); output is sorted, frozen and fingerprinted (DESIGN.md "Data flow", step 3).

import type { Backend, CanaryPolicy, CompileOptions, Condition, HealthPolicy, Route, RoutePolicies, RouteTable, TlsBinding, UpstreamPolicy, VirtualHost } from './model.ts';
import type { KubeObject, Snapshot } from './snapshot.ts';
import { readIngressAnnotations, type IngressAnnotations } from './annotations/ingress-annotations.ts';
import { ownership } from './processors/ingress-class.ts';
import { condition, readIngress, type DefaultCandidate, type IngressOutput, type RouteCandidate } from './processors/ingress.ts';
import { readTls, ruleHosts, tlsCovers, tlsShapeProblem, type TlsCandidate } from './processors/tls.ts';
import { clusterIpBackend, firstPortRef, resolveBackend, resolveDefaultBackendService } from './processors/services.ts';
import { routeErrorPages } from './annotations/error-pages.ts';
import { aliasHosts } from './processors/aliases.ts';
import { readAnnotation } from './annotations/read-annotation.ts';
import { printableConditions, sortConditions } from './conditions.ts';
import { deepFreeze, digest, fingerprint } from './hash.ts';
import { indexOfHost, insertionPoint } from './sorted.ts';
import { upstreamPolicy } from './annotations/backend-protocol.ts';
import { DEFAULT_PROXY_BODY_SIZE } from './annotations/body-size.ts';
import { acmeRequests } from './annotations/acme.ts';
import { WWW_REDIRECT_CODE, wwwAlias } from './annotations/redirect.ts';
import { annotationNameProblems } from './annotations/annotation-names.ts';
import { routeRewrite, wantsRegexMode } from './annotations/rewrite.ts';
import { compilePathRegex } from './path-regex.ts';
import type { AcmeRequest } from './model.ts';
import { readGlobalConfig } from './global-config.ts';
import { readConfigMapRef, readCustomHeadersRef } from './annotations/custom-headers.ts';
import { routeBalance } from './annotations/load-balance.ts';
import { clientCertsByHost } from './annotations/client-cert.ts';

export interface CompileResult {
  readonly table: RouteTable;
  readonly conditions: readonly Condition[];
  /** `namespace/name` of every Ingress this controller owns, sorted (for status writes). */
  readonly ingresses: readonly string[];
  /** `namespace/name` of the owned Ingresses compile took in, sorted: the others were left out whole (a refused annotation or shape). */
  readonly accepted: readonly string[];
  /** The certificates gatehouse.io/acme Ingresses ask the ACME manager for, sorted by Secret. */
  readonly acme: readonly AcmeRequest[];
  /**
   * `namespace/name` of the Secrets annotations name (proxy-ssl-secret, auth-tls-secret), sorted: they need
   * not be of type kubernetes.io/tls, so Kubernetes mode watches them by name.
   */
  readonly annotationSecrets: readonly string[];
  /** `namespace/name` of the ConfigMaps the --configmap ConfigMap (add-headers, proxy-set-headers), custom-headers and auth-proxy-set-headers annotations name, sorted: Kubernetes mode watches them by name. */
  readonly configMaps: readonly string[];
}

const ingressKeys = new WeakMap<KubeObject, string>();

/** `namespace/name`, made once per object (compile asks for it several times per Ingress and route). */
function ingressKey(ing: KubeObject): string {
  let key = ingressKeys.get(ing);
  if (key === undefined) ingressKeys.set(ing, (key = `${ing.metadata.namespace}/${ing.metadata.name}`));
  return key;
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

/**
 * Each backend's health checks: those of the oldest Ingress routing to it that sets any (a policy
 * is per Service port: its endpoints are probed and ejected once, whatever routes lead there).
 * A younger Ingress that sets different ones gets GH_HEALTH_CHECK_CONFLICT, and is served.
 */
function backendHealth(backendsOf: ReadonlyMap<string, ReadonlySet<string>>, ingresses: readonly KubeObject[], policies: ReadonlyMap<string, IngressAnnotations>, conditions: Condition[]): Map<string, HealthPolicy> {
  const out = new Map<string, HealthPolicy>();
  const winner = new Map<string, string>();
  // `ingresses` is in age order.
  for (const ing of ingresses) {
    const key = ingressKey(ing);
    const health = policies.get(key)?.health;
    if (health === undefined) continue;
    for (const id of [...(backendsOf.get(key) ?? [])].sort()) {
      const had = out.get(id);
      if (had === undefined) {
        out.set(id, health);
        winner.set(id, key);
      } else if (JSON.stringify(had) !== JSON.stringify(health)) {
        const field = `metadata.annotations[${JSON.stringify(health.active ? 'gatehouse.io/health-check-path' : 'gatehouse.io/passive-health-consecutive-failures')}]`;
        conditions.push(condition(ing, 'GH_HEALTH_CHECK_CONFLICT', field, `the backend ${id} has other health checks, set by the Ingress ${winner.get(id)!} created earlier; those apply, not this Ingress's`));
      }
    }
  }
  return out;
}

/** Where a canary path attaches: ingress-nginx's mergeAlternativeBackends takes the location with the same host, path as written and pathType. */
function canaryKey(c: RouteCandidate): string {
  return `host ${JSON.stringify(c.host)} ${c.implementationSpecific ? 'ImplementationSpecific' : c.match} path ${JSON.stringify(c.written)}`;
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** What compile takes from one owned Ingress alone, in the order it found it (replayed in age order). */
interface IngressRead {
  readonly conditions: readonly Condition[];
  /** ConfigMaps its annotations name (watched by name in Kubernetes mode). */
  readonly configMaps: readonly string[];
  /** The routes, default backends and hosts of its rules; null when it was left out before they were read. */
  readonly output: IngressOutput | null;
  readonly canary: boolean;
  /** Its annotations; null when it is left out whole. */
  readonly policy: IngressAnnotations | null;
  readonly tls: readonly TlsCandidate[];
  /** Its rules' hosts (processors/tls.ts ruleHosts), when it is served. */
  readonly hosts: readonly string[];
  /** What ties it to other Ingresses in compile (see groupIngresses): `h:` host names, `s:` Services, `t:` ACME Secrets. */
  readonly links: readonly string[];
  /** Its links and wildcard TLS hosts as one string: all groupIngresses reads of it. */
  readonly ties: string;
}

type AnnotationOptions = Parameters<typeof readIngressAnnotations>[1];

/** Annotations and spec.tls first: a bad value or shape leaves the whole Ingress out. */
function readOwned(ing: KubeObject, annotationOptions: AnnotationOptions): IngressRead {
  const conditions: Condition[] = [];
  const configMaps: string[] = [];
  const done = (policy: IngressAnnotations | null = null, output: IngressOutput | null = null, canary = false, tls: TlsCandidate[] = []): IngressRead => {
    const tied = links(ing, policy, output, tls);
    const ties = JSON.stringify([tied, tls.flatMap((c) => (c.host.startsWith('*.') ? [c.host] : []))]);
    return { conditions, configMaps, output, canary, policy, tls, hosts: policy === null ? [] : ruleHosts(ing), links: tied, ties };
  };
  const tlsProblem = tlsShapeProblem(ing);
  if (tlsProblem !== null) {
    conditions.push(condition(ing, 'GH_OBJECT_INVALID', tlsProblem.field, `${tlsProblem.message}; the Ingress is left out`));
    return done();
  }
  const names = annotationNameProblems(ing.metadata.annotations);
  for (const key of names.snippets) {
    conditions.push(condition(ing, 'GH_ANNOTATION_SNIPPET', `metadata.annotations[${JSON.stringify(key)}]`, `${key} asks for raw nginx configuration, which Gatehouse never takes; the Ingress is left out`));
  }
  for (const { key, note } of names.refused) {
    conditions.push(condition(ing, 'GH_ANNOTATION_REFUSED', `metadata.annotations[${JSON.stringify(key)}]`, `${key} is refused by design: ${note}; the Ingress is left out`));
  }
  for (const { key, note } of names.invalid) {
    conditions.push(condition(ing, 'GH_ANNOTATION_INVALID', `metadata.annotations[${JSON.stringify(key)}]`, `${note}; the Ingress is left out`));
  }
  if (names.snippets.length + names.refused.length + names.invalid.length > 0) return done();
  for (const { key, note } of names.unsupported) {
    conditions.push(condition(ing, 'GH_ANNOTATION_UNSUPPORTED', `metadata.annotations[${JSON.stringify(key)}]`, `${key} is an ingress-nginx annotation Gatehouse does not act on: ${note}; the Ingress is served without it`));
  }
  for (const key of names.unknown) {
    conditions.push(condition(ing, 'GH_ANNOTATION_UNKNOWN', `metadata.annotations[${JSON.stringify(key)}]`, `${key} is not an annotation Gatehouse reads (see docs/annotations.md); the Ingress is served without it`));
  }
  // custom-headers' ConfigMap is watched by name whether it exists or not: its creation applies.
  const customHeaders = readCustomHeadersRef(ing);
  if (customHeaders.ok && customHeaders.value !== undefined) configMaps.push(`${customHeaders.value.namespace}/${customHeaders.value.name}`);
  const authHeaders = readConfigMapRef(ing, 'auth-proxy-set-headers');
  if (authHeaders.ok && authHeaders.value !== undefined) configMaps.push(`${authHeaders.value.namespace}/${authHeaders.value.name}`);
  const policy = readIngressAnnotations(ing, annotationOptions, conditions);
  if (policy === null) return done();
  // Client certificates are asked for by SNI, per host: a rule without one cannot ask for them.
  if (policy.clientCert !== undefined && (ruleHosts(ing).length === 0 || ruleHosts(ing).includes(''))) {
    conditions.push(condition(ing, 'GH_ANNOTATION_INVALID', policy.clientCert.secret.field, 'auth-tls-secret applies per host (the TLS handshake asks for a client certificate by SNI), and this Ingress has a rule without a host; the Ingress is left out'));
    return done();
  }
  if (policy.canary?.enabled === false && policy.canary.keys.length > 0) {
    conditions.push(condition(ing, 'GH_CANARY_DISABLED', `metadata.annotations[${JSON.stringify(policy.canary.keys[0])}]`, `${policy.canary.keys.join(', ')} set without canary: "true" do nothing (as in ingress-nginx); the Ingress is served as a normal one`));
  }
  // A canary's paths and TLS make no routes or hosts of their own (ingress-nginx skips canaries when it builds servers).
  const canary = policy.canary?.enabled === true;
  const output: IngressOutput = { routes: [], defaults: [], hosts: new Set() };
  const before = conditions.length;
  readIngress(ing, output, conditions);
  // readIngress leaves a malformed Ingress out whole with GH_OBJECT_INVALID; its TLS goes too.
  if (conditions.slice(before).some((c) => c.code === 'GH_OBJECT_INVALID')) return done(null, output, canary);
  if (canary) return done(policy, output, true);
  const tls: TlsCandidate[] = [];
  readTls(ing, tls, conditions);
  return done(policy, output, false, tls);
}

/**
 * The names through which an Ingress's output can depend on another's: its hosts (routes, default
 * backends, canaries, TLS, client certificates, conditions about conflicts are per host), the
 * www-redirect and server-alias names of those hosts (they are hosts too, and yield to Ingresses
 * naming them), its Services (backends are shared, and health checks are per backend) and, with
 * gatehouse.io/acme, its TLS Secrets (one certificate per Secret). A wildcard TLS host reaches the
 * hosts one label under it: groupIngresses adds that tie, knowing every wildcard.
 */
function links(ing: KubeObject, policy: IngressAnnotations | null, output: IngressOutput | null, tls: readonly TlsCandidate[]): string[] {
  const out = new Set<string>();
  const host = (h: string) => {
    out.add(`h:${h}`);
    const www = wwwAlias(h);
    if (www !== null) out.add(`h:${www}`);
  };
  const service = (namespace: string, name: string) => out.add(`s:${namespace}/${name}`);
  for (const h of ruleHosts(ing)) host(h);
  for (const c of output?.routes ?? []) {
    host(c.host);
    service(c.backend.namespace, c.backend.service);
  }
  for (const d of output?.defaults ?? []) {
    host(d.host);
    service(d.backend.namespace, d.backend.service);
  }
  for (const h of output?.hosts ?? []) host(h);
  for (const c of tls) {
    host(c.host);
    if (policy?.acme.acme === true && c.secret !== null) out.add(`t:${c.secret}`);
  }
  for (const alias of policy?.aliases ?? []) host(alias);
  const fallback = policy?.errorPages?.defaultBackend;
  if (fallback !== undefined && fallback !== null) service(ing.metadata.namespace, fallback);
  return [...out];
}

/**
 * The owned Ingresses (in age order) in groups that compile can take apart: no Ingress's output
 * depends on an Ingress of another group (see links). Each group is in age order; the groups are
 * in the order of their oldest Ingress.
 */
function groupIngresses(reads: readonly Pick<IngressRead, 'links' | 'tls'>[]): number[][] {
  const parent: number[] = reads.map((_, i) => i);
  const find = (i: number): number => {
    while (parent[i] !== i) i = parent[i] = parent[parent[i]!]!;
    return i;
  };
  const union = (a: number, b: number) => {
    const ra = find(a);
    const rb = find(b);
    if (ra !== rb) parent[Math.max(ra, rb)] = Math.min(ra, rb);
  };
  const wildcards = new Set<string>();
  for (const r of reads) for (const c of r.tls) if (c.host.startsWith('*.')) wildcards.add(c.host);
  const owner = new Map<string, number>();
  const tie = (key: string, i: number) => {
    const o = owner.get(key);
    if (o === undefined) owner.set(key, i);
    else union(o, i);
  };
  reads.forEach((r, i) => {
    for (const key of r.links) {
      tie(key, i);
      // A wildcard binding covers the names one label under it (tlsCovers).
      const dot = key.indexOf('.');
      if (wildcards.size > 0 && key.startsWith('h:') && !key.startsWith('h:*.') && dot > 2 && wildcards.has(`*.${key.slice(dot + 1)}`)) tie(`h:*.${key.slice(dot + 1)}`, i);
    }
  });
  const groups = new Map<number, number[]>();
  for (let i = 0; i < reads.length; i++) {
    const root = find(i);
    const g = groups.get(root);
    if (g === undefined) groups.set(root, [i]);
    else g.push(i);
  }
  return [...groups.values()];
}

/** What compile makes of one group of Ingresses (groupIngresses), or of all of them. */
interface Part {
  /** Sorted by host. */
  readonly hosts: readonly VirtualHost[];
  /** With their health checks. */
  readonly backends: Readonly<Record<string, Backend>>;
  readonly bindings: readonly TlsBinding[];
  readonly conditions: readonly Condition[];
  readonly acme: readonly AcmeRequest[];
  readonly annotationSecrets: readonly string[];
  /** `namespace/name` of the Ingresses taken in. */
  readonly accepted: readonly string[];
}

/**
 * compile's per-Ingress readings, kept between compiles (see compile). Valid for one Ingress
 * object (the snapshot replaces an object that changes) under one key (settings and ConfigMaps).
 */
export class CompileMemo {
  /** The last compile's Ingresses, groups, parts and their merge: what a change to a few Ingresses starts from (again). */
  #last: Last | null = null;
  #key = '';
  #reads = new WeakMap<KubeObject, IngressRead>();
  /** The last grouping, and the ties (IngressRead.ties) it was made from, in order. */
  #groups: { ties: readonly string[]; groups: readonly (readonly number[])[] } | null = null;
  #partsKey = '';
  /** Each group's part, by its oldest Ingress: valid while its Ingresses are the same objects, under the same settings, ConfigMaps and Services. */
  #parts = new Map<KubeObject, { members: readonly KubeObject[]; part: Part }>();

  read(ing: KubeObject, key: string, read: () => IngressRead): IngressRead {
    if (key !== this.#key) {
      this.#key = key;
      this.#reads = new WeakMap();
    }
    let r = this.#reads.get(ing);
    if (r === undefined) this.#reads.set(ing, (r = read()));
    return r;
  }

  /** groupIngresses(reads), kept while the Ingresses in age order tie as they did (it depends on nothing else). */
  groups(reads: readonly IngressRead[]): readonly (readonly number[])[] {
    const last = this.#groups;
    const ties = reads.map((r) => r.ties);
    if (last !== null && last.ties.length === ties.length && ties.every((t, i) => t === last.ties[i])) return last.groups;
    this.#groups = { ties, groups: groupIngresses(reads) };
    return this.#groups.groups;
  }

  /**
   * The part of each group (indices into `ingresses`): kept from the last compile when its
   * Ingresses are the same objects, else made. Parts of groups gone are forgotten.
   */
  parts(groups: readonly (readonly number[])[], ingresses: readonly KubeObject[], key: string, make: (group: readonly number[]) => Part): Part[] {
    const before = key === this.#partsKey ? this.#parts : new Map<KubeObject, { members: readonly KubeObject[]; part: Part }>();
    const next = new Map<KubeObject, { members: readonly KubeObject[]; part: Part }>();
    const out = groups.map((group) => {
      const first = ingresses[group[0]!]!;
      const had = before.get(first);
      const kept = had !== undefined && had.members.length === group.length && group.every((i, k) => ingresses[i] === had.members[k]);
      const entry = kept ? had : { members: group.map((i) => ingresses[i]!), part: make(group) };
      next.set(first, entry);
      return entry.part;
    });
    this.#partsKey = key;
    this.#parts = next;
    return out;
  }

  /** Kept for again(): the Ingresses as listed under `key`, and what compile made of them. */
  keep(last: Omit<Last, 'index' | 'configMaps'>): Last {
    this.#last = { ...last, index: null, configMaps: readConfigMaps(last.reads) };
    return this.#last;
  }

  /**
   * The common change, some Ingresses replaced by new versions that stay ours, keep their
   * creationTimestamp and tie to the same others (IngressRead.ties), under the same `key`
   * (settings, ConfigMaps, Services, IngressClasses): the last compile's Ingresses in age order with
   * those replaced, their groups assembled again and merged into the last merge. Null for any
   * other change (compile then starts over, with the reads and parts kept).
   */
  again(list: readonly KubeObject[], key: string, owns: (ing: KubeObject) => boolean, readOf: (ing: KubeObject) => IngressRead, partOf: (ingresses: readonly KubeObject[], reads: readonly IngressRead[], group: readonly number[]) => Part, secrets: { revision: number; digest: (ref: string) => string }): Last | null {
    const last = this.#last;
    if (last === null || last.key !== key || last.list.length !== list.length) return null;
    const ingresses = last.ingresses.slice();
    const reads = last.reads.slice();
    const touched = new Set<number>();
    let configMapsMoved = false;
    let index = last.index;
    for (let i = 0; i < list.length; i++) {
      const was = last.list[i]!;
      const now = list[i]!;
      if (now === was) continue;
      if (ingressKey(now) !== ingressKey(was)) return null;
      index ??= indexIngresses(last);
      const at = index.at.get(ingressKey(now));
      if (at === undefined) {
        if (owns(now)) return null;
        continue;
      }
      if (!owns(now) || created(now) !== created(was)) return null;
      const read = readOf(now);
      if (read.ties !== reads[at]!.ties) return null;
      if (!sameStrings(read.configMaps, reads[at]!.configMaps)) configMapsMoved = true;
      ingresses[at] = now;
      reads[at] = read;
      touched.add(index.groupOf[at]!);
    }
    const parts = last.parts.slice();
    const changes: { before: Part; after: Part }[] = [];
    for (const g of touched) {
      const group = last.groups[g]!;
      const after = partOf(ingresses, reads, group);
      changes.push({ before: parts[g]!, after });
      parts[g] = after;
      this.#parts.delete(last.ingresses[group[0]!]!);
      this.#parts.set(ingresses[group[0]!]!, { members: group.map((i) => ingresses[i]!), part: after });
    }
    const merged = changes.length === 0 ? last.merged : (remerge(last.merged, changes, secrets.revision, secrets.digest) ?? merge(parts, ingresses));
    this.#last = { ...last, list, ingresses, reads, parts, merged, index, configMaps: configMapsMoved ? readConfigMaps(reads) : last.configMaps };
    return this.#last;
  }
}

/** What CompileMemo.again starts from: the last compile's Ingresses (as listed, and owned in age order) and what it made of them. */
interface Last {
  /** The settings, ConfigMaps, Services and IngressClasses they were compiled under. */
  readonly key: string;
  /** snapshot.list('Ingress'). */
  readonly list: readonly KubeObject[];
  /** The owned ones, in age order, and their reads. */
  readonly ingresses: readonly KubeObject[];
  readonly reads: readonly IngressRead[];
  readonly groups: readonly (readonly number[])[];
  /** Where each owned Ingress is, made when a change first asks. */
  readonly index: IngressIndex | null;
  /** The ConfigMaps the reads name (IngressRead.configMaps), each once. */
  readonly configMaps: readonly string[];
  /** Each group's part. */
  readonly parts: readonly Part[];
  readonly merged: Merged;
}

interface IngressIndex {
  /** ingressKey → index in Last.ingresses. */
  readonly at: ReadonlyMap<string, number>;
  /** Index in Last.ingresses → index of its group. */
  readonly groupOf: Int32Array;
}

function indexIngresses(last: Pick<Last, 'ingresses' | 'groups'>): IngressIndex {
  const groupOf = new Int32Array(last.ingresses.length);
  last.groups.forEach((group, g) => {
    for (const i of group) groupOf[i] = g;
  });
  return { at: new Map(last.ingresses.map((ing, i) => [ingressKey(ing), i])), groupOf };
}

/** The parts taken together (finish adds the settings). */
interface Merged {
  /** Sorted by host, frozen. */
  readonly hosts: readonly VirtualHost[];
  readonly hostsSum: DigestSum;
  /** Sorted by id, frozen. */
  readonly backends: Readonly<Record<string, Backend>>;
  readonly backendsSum: DigestSum;
  /** Sorted by host, frozen. */
  readonly tls: readonly TlsBinding[];
  readonly tlsSum: DigestSum;
  /** The Secrets the bindings and annotations name, each with how many name it (remerge counts the next merge's in it). */
  readonly refs: Map<string, number>;
  /** Those Secrets' contents (secretDigest) summed, under a Secret revision of the snapshot; null: not worked out yet. */
  secrets: { readonly revision: number; readonly sum: DigestSum } | null;
  /** CompileResult.ingresses, accepted, acme and annotationSecrets. */
  readonly ingresses: readonly string[];
  readonly accepted: readonly string[];
  readonly acme: readonly AcmeRequest[];
  readonly annotationSecrets: readonly string[];
}

/**
 * Digests (of hosts, backends, TLS bindings or Secrets) summed, in two lanes of 32 bits: kept from
 * one compile to the next by taking out those gone and adding those new. A host's, backend's or
 * binding's JSON holds its name or id, which are unique, so the sum stands for the list sorted by
 * them.
 */
type DigestSum = readonly [number, number];

const LANE = 2 ** 32;

/** `sum` with the digest (hex, from fingerprint) added or taken out. */
function addHex(sum: DigestSum, hex: string, sign: 1 | -1): DigestSum {
  return addLanes(sum, lanes(hex), sign);
}

function lanes(hex: string): DigestSum {
  const d = parseInt(hex, 16);
  const lo = d % LANE;
  return [lo, (d - lo) / LANE];
}

function addLanes(sum: DigestSum, [lo, hi]: DigestSum, sign: 1 | -1): DigestSum {
  return [(sum[0] + sign * lo + LANE) % LANE, (sum[1] + sign * hi + LANE) % LANE];
}

/** digest(value) as lanes, once per object (compile keeps most objects from one compile to the next). */
const digestLanes = new WeakMap<object, DigestSum>();

function addDigest(sum: DigestSum, value: object, sign: 1 | -1): DigestSum {
  let l = digestLanes.get(value);
  if (l === undefined) digestLanes.set(value, (l = lanes(digest(value))));
  return addLanes(sum, l, sign);
}

const secretContentDigests = new WeakMap<KubeObject, string>();

/**
 * Of the Secret `ref` as the snapshot has it: its name, type and data (missing: its name alone; it
 * may appear), worked out once per Secret object. The table carries only the references; a changed
 * Secret must still publish a new table, so that the control plane ships the new certificate.
 */
function secretDigest(snapshot: Snapshot, ref: string): string {
  const [namespace = '', name = ''] = ref.split('/');
  const s = snapshot.get('Secret', namespace, name);
  if (s === undefined) return fingerprint(JSON.stringify([ref, null]));
  let content = secretContentDigests.get(s);
  if (content === undefined) secretContentDigests.set(s, (content = fingerprint(JSON.stringify([s.type ?? null, s.data ?? null, s.stringData ?? null]))));
  return fingerprint(JSON.stringify([ref, content]));
}

/** The Secrets a part names: its bindings' and its annotations', as often as they name them. */
function partRefs(p: Part): string[] {
  return [...p.bindings.flatMap((b) => (b.secret === null ? [] : [b.secret])), ...p.annotationSecrets];
}

function byHost(a: { host: string }, b: { host: string }): number {
  return cmp(a.host, b.host);
}

const sameStrings = (a: readonly string[], b: readonly string[]) => a.length === b.length && a.every((v, i) => v === b[i]);

function readConfigMaps(reads: readonly IngressRead[]): string[] {
  const out = new Set<string>();
  for (const r of reads) for (const ref of r.configMaps) out.add(ref);
  return [...out];
}

/** The parts (in the order of their groups) merged; `ingresses` the owned ones. */
function merge(parts: readonly Part[], ingresses: readonly KubeObject[]): Merged {
  for (const p of parts) deepFreeze(p);
  const hosts = Object.freeze(parts.length === 1 ? parts[0]!.hosts : parts.flatMap((p) => p.hosts).sort(byHost));
  let hostsSum: DigestSum = [0, 0];
  for (const vh of hosts) hostsSum = addDigest(hostsSum, vh, 1);
  const backends: Record<string, Backend> = {};
  for (const p of parts) Object.assign(backends, p.backends);
  const sorted: Record<string, Backend> = {};
  let backendsSum: DigestSum = [0, 0];
  for (const id of Object.keys(backends).sort()) backendsSum = addDigest(backendsSum, (sorted[id] = backends[id]!), 1);
  const tls = Object.freeze(parts.flatMap((p) => p.bindings).sort(byHost));
  let tlsSum: DigestSum = [0, 0];
  for (const b of tls) tlsSum = addDigest(tlsSum, b, 1);
  const refs = new Map<string, number>();
  for (const p of parts) for (const ref of partRefs(p)) refs.set(ref, (refs.get(ref) ?? 0) + 1);
  return {
    hosts,
    hostsSum,
    backends: sorted,
    backendsSum,
    tls,
    tlsSum,
    refs,
    secrets: null,
    ingresses: Object.freeze(ingresses.map(ingressKey).sort(cmp)),
    accepted: Object.freeze(parts.flatMap((p) => p.accepted).sort(cmp)),
    acme: deepFreeze(parts.flatMap((p) => p.acme).sort((a, b) => cmp(a.secret, b.secret))),
    annotationSecrets: Object.freeze([...new Set(parts.flatMap((p) => p.annotationSecrets))].sort(cmp)),
  };
}

/** `list` (sorted by host) with `before`'s entries taken out and `after`'s put in, by binary search, and `sum` kept with them; null when an entry would repeat. */
function splice<T extends { readonly host: string }>(list: T[], sum: DigestSum, before: readonly T[], after: readonly T[]): DigestSum | null {
  for (const v of before) {
    sum = addDigest(sum, v, -1);
    list.splice(indexOfHost(list, v.host), 1);
  }
  for (const v of after) {
    sum = addDigest(sum, v, 1);
    const at = insertionPoint(list, v.host);
    if (list[at]?.host === v.host) return null;
    list.splice(at, 0, v);
  }
  return sum;
}

/**
 * `last` with parts replaced (`before` → `after`, the same owned Ingresses): their hosts and TLS
 * bindings spliced out and in by binary search, their backends and Secrets replaced. Null when a
 * part's backends, accepted Ingresses, ACME requests or annotation Secrets are others than before
 * (merge then starts over), or a host would repeat. `secretDigest`: of a Secret now; the Secrets'
 * sum is kept when the snapshot's Secrets are those it was worked out from (`secretRevision`).
 */
function remerge(last: Merged, changes: readonly { before: Part; after: Part }[], secretRevision: number, secretDigest: (ref: string) => string): Merged | null {
  const hosts = last.hosts.slice();
  let hostsSum: DigestSum | null = last.hostsSum;
  const tls = last.tls.slice();
  let tlsSum: DigestSum | null = last.tlsSum;
  const backends: Record<string, Backend> = { ...last.backends };
  let backendsSum = last.backendsSum;
  // Counted in place once nothing can fail (below): the last merge is not used again.
  const refs = last.refs;
  let secrets = last.secrets?.revision === secretRevision ? last.secrets.sum : null;
  const count = (ref: string, by: 1 | -1) => {
    const n = (refs.get(ref) ?? 0) + by;
    if (n === 0) refs.delete(ref);
    else refs.set(ref, n);
    // A Secret named for the first time, or no more.
    if (secrets !== null && (n === 0 || (n === 1 && by === 1))) secrets = addHex(secrets, secretDigest(ref), by);
  };
  for (const { before, after } of changes) {
    if (!sameStrings(Object.keys(before.backends), Object.keys(after.backends)) || !sameStrings(before.accepted, after.accepted) || !sameStrings(before.annotationSecrets, after.annotationSecrets) || JSON.stringify(before.acme) !== JSON.stringify(after.acme)) return null;
    deepFreeze(after);
    hostsSum = splice(hosts, hostsSum, before.hosts, after.hosts);
    tlsSum = tlsSum === null ? null : splice(tls, tlsSum, before.bindings, after.bindings);
    if (hostsSum === null || tlsSum === null) return null;
    for (const b of Object.values(before.backends)) backendsSum = addDigest(backendsSum, b, -1);
    for (const b of Object.values(after.backends)) backendsSum = addDigest(backendsSum, b, 1);
    Object.assign(backends, after.backends);
  }
  for (const { before, after } of changes) {
    for (const ref of partRefs(before)) count(ref, -1);
    for (const ref of partRefs(after)) count(ref, 1);
  }
  return {
    ...last,
    hosts: Object.freeze(hosts),
    hostsSum,
    backends: Object.freeze(backends),
    backendsSum,
    tls: Object.freeze(tls),
    tlsSum,
    refs,
    secrets: secrets === null ? null : { revision: secretRevision, sum: secrets },
  };
}

/**
 * `memo`: kept by the caller from one compile to the next, so that an Ingress read before (the
 * same object, under the same settings and ConfigMaps) is not read again: only a cache, the result
 * is the same without it.
 */
export function compile(snapshot: Snapshot, flags: CompileOptions, generation: number, memo?: CompileMemo): CompileResult {
  const conditions: Condition[] = [];
  // The --configmap ConfigMap first: its keys are defaults the families below read from options.
  const global = readGlobalConfig(snapshot, flags, conditions);
  const options = global.options;
  const owns = ownership(snapshot, options);
  const list = snapshot.list('Ingress');
  const customHeadersContext = { configMap: (ns: string, name: string) => snapshot.get('ConfigMap', ns, name), allowed: options.allowedResponseHeaders ?? [] };
  const annotationOptions = { ...options, sslRedirect: options.defaultSslRedirect ?? true, customHeaders: customHeadersContext };
  // What changes an Ingress's own reading besides itself: the settings and the ConfigMaps (custom-headers).
  const memoKey = memo === undefined ? '' : `${snapshot.revision('ConfigMap')} ${JSON.stringify(options)}`;
  const readOf = (ing: KubeObject) => (memo === undefined ? readOwned(ing, annotationOptions) : memo.read(ing, memoKey, () => readOwned(ing, annotationOptions)));
  const partOf = (ingresses: readonly KubeObject[], reads: readonly IngressRead[], group: readonly number[]) => assemble(snapshot, options, group.map((i) => ingresses[i]!), group.map((i) => reads[i]!));
  const partsKey = `${memoKey} ${snapshot.revision('Service')}`;
  const lastKey = `${partsKey} ${snapshot.revision('IngressClass')}`;
  let kept: Pick<Last, 'configMaps' | 'parts' | 'merged'> | null = memo?.again(list, lastKey, owns, readOf, partOf, { revision: snapshot.revision('Secret'), digest: (ref) => secretDigest(snapshot, ref) }) ?? null;
  if (kept === null) {
    const ingresses = list.filter(owns).sort(age);
    const reads = ingresses.map(readOf);
    // With a memo, each group of Ingresses that do not touch another group's output is assembled
    // alone, and kept while its Ingresses (and the Services they use) stay the same.
    const groups = memo === undefined ? [ingresses.map((_, i) => i)] : memo.groups(reads);
    const parts = memo === undefined ? [assemble(snapshot, options, ingresses, reads)] : memo.parts(groups, ingresses, partsKey, (group) => partOf(ingresses, reads, group));
    const merged = merge(parts, ingresses);
    kept = memo?.keep({ key: lastKey, list, ingresses, reads, groups, parts, merged }) ?? { configMaps: readConfigMaps(reads), parts, merged };
  }
  return finish(snapshot, options, global, generation, kept.merged, kept.parts, [...global.configMaps, ...kept.configMaps], conditions);
}

/** compile for one group of owned Ingresses (in age order), or all of them; `reads` are theirs. */
function assemble(snapshot: Snapshot, options: CompileOptions, ingresses: readonly KubeObject[], reads: readonly IngressRead[]): Part {
  const conditions: Condition[] = [];
  const read: IngressOutput = { routes: [], defaults: [], hosts: new Set() };
  /** The paths and default backends of canary Ingresses: they attach to the main Ingresses' (below the routes). */
  const canaryRead: IngressOutput = { routes: [], defaults: [], hosts: new Set() };
  const policies = new Map<string, IngressAnnotations>();
  const tlsRead: TlsCandidate[] = [];
  /** The oldest Ingress naming each host: its annotations hold for the host's unmatched paths. */
  const firstIngress = new Map<string, string>();
  ingresses.forEach((ing, i) => {
    const r = reads[i]!;
    conditions.push(...r.conditions);
    if (r.output !== null) {
      const into = r.canary ? canaryRead : read;
      into.routes.push(...r.output.routes);
      into.defaults.push(...r.output.defaults);
      for (const host of r.output.hosts) into.hosts.add(host);
    }
    if (r.policy === null) return;
    policies.set(ingressKey(ing), r.policy);
    if (r.canary) return;
    tlsRead.push(...r.tls);
    for (const host of r.hosts) if (!firstIngress.has(host)) firstIngress.set(host, ingressKey(ing));
  });

  // TLS bindings: for the same host the oldest Ingress wins; one naming another Secret loses
  // with a condition (the same Secret twice is no conflict).
  const bindings = new Map<string, TlsBinding>();
  for (const c of tlsRead) {
    const won = bindings.get(c.host);
    if (won) {
      if (won.secret !== c.secret) {
        conditions.push(condition(c.ingress, 'GH_TLS_CONFLICT', c.field,
          `TLS host ${JSON.stringify(c.host)} is already bound to ${won.secret === null ? 'the default certificate' : `Secret ${won.secret}`} by ${won.ingress === ingressKey(c.ingress) ? `this Ingress at ${won.field}` : `Ingress ${won.ingress}, which is older`}`));
      }
      continue;
    }
    bindings.set(c.host, { host: c.host, secret: c.secret, ingress: ingressKey(c.ingress), field: c.field });
  }
  // gatehouse.io/acme: the certificates to keep, from the bindings that won.
  const annotated = [...policies].filter(([, p]) => p.acme.acme).map(([k]) => k).sort(cmp);
  const acmeCandidates = tlsRead.filter((c) => policies.get(ingressKey(c.ingress))?.acme.acme === true).map((c) => ({ host: c.host, secret: c.secret, ingress: ingressKey(c.ingress), field: c.field }));
  const acme = acmeRequests(annotated, acmeCandidates, bindings, options.acme ?? false, conditions);

  const hasTls = (host: string): boolean => {
    if (host === '') return false;
    if (bindings.has(host)) return true;
    const dot = host.indexOf('.');
    const wildcard = bindings.get(`*.${host.slice(dot + 1)}`);
    return dot > 0 && wildcard !== undefined && tlsCovers(wildcard.host, host);
  };
  // ingress-nginx: redirect when force-ssl-redirect, or when the host has TLS and ssl-redirect.
  const sslRedirect = (ingress: string | undefined, host: string): boolean => {
    const p = ingress === undefined ? undefined : policies.get(ingress)?.sslRedirect;
    return p !== undefined && (p.forceSslRedirect || (p.sslRedirect && hasTls(host)));
  };

  // Backends, each resolved once; a problem is reported once per Ingress and backend.
  const backends: Record<string, Backend> = {};
  const reported = new Set<string>();
  /** The backends each Ingress routes to, by `namespace/name` (health checks are per backend). */
  const backendsOf = new Map<string, Set<string>>();
  const useBackend = (ing: KubeObject, field: string, ref: Parameters<typeof resolveBackend>[1]): string => {
    const resolved = resolveBackend(snapshot, ref);
    const { problem } = resolved;
    let { backend } = resolved;
    // service-upstream: the Service's ClusterIP instead of its endpoints (processors/services.ts).
    if (policies.get(ingressKey(ing))?.serviceUpstream === true) {
      const cluster = clusterIpBackend(snapshot, backend);
      backend = cluster.backend;
      if (cluster.problem !== null && !reported.has(`${ingressKey(ing)} ${backend.id} clusterIP`)) {
        reported.add(`${ingressKey(ing)} ${backend.id} clusterIP`);
        conditions.push(condition(ing, 'GH_SERVICE_UPSTREAM_NO_CLUSTER_IP', field, cluster.problem));
      }
    }
    const id = backend.id;
    backends[id] = backend;
    const used = backendsOf.get(ingressKey(ing));
    if (used === undefined) backendsOf.set(ingressKey(ing), new Set([id]));
    else used.add(id);
    if (problem !== null && !reported.has(`${ingressKey(ing)} ${id}`)) {
      reported.add(`${ingressKey(ing)} ${id}`);
      conditions.push(condition(ing, problem.code, field, problem.message));
    }
    return id;
  };

  // backend-protocol, proxy-ssl-*, timeouts and retries of the Ingress, on each of its routes (absent: HTTP/1.1, the table's).
  const upstreamFor = (ingress: string | undefined, backend: string) => {
    const p = ingress === undefined ? undefined : policies.get(ingress);
    return p === undefined ? undefined : upstreamPolicy(p.backendProtocol, p.proxySsl, backends[backend]!, p.forward);
  };

  // The traffic policies of the Ingress, on each of its routes; none: left out of the table. The
  // rewrite and the affinity cookie's path are fitted to the route's path as written and its regex
  // (a host's unmatched paths are ingress-nginx's root location, path `/`).
  const policiesOf = (ingress: string | undefined, written = '/', regex: string | null = null, backend: string | null = null): RoutePolicies | undefined => {
    let p = ingress === undefined ? undefined : policies.get(ingress)?.policies;
    const errorPages = ingress === undefined ? undefined : errorPagesOf(ingress, backend);
    if (errorPages !== undefined) p = { ...p, errorPages };
    if (p?.rewrite !== undefined) {
      const { rewrite, ...rest } = p;
      const fitted = routeRewrite(rewrite, written, regex);
      p = fitted === undefined ? rest : { ...rest, rewrite: fitted };
    }
    if (p?.balance !== undefined) p = { ...p, balance: routeBalance(p.balance, written, regex !== null) };
    return p === undefined || Object.keys(p).length === 0 ? undefined : p;
  };

  // custom-http-errors and default-backend (annotations/error-pages.ts): the default-backend
  // Service's backend, once per Ingress, and the route's Service and port for X-Service-*.
  const fallbacks = new Map<string, string | null>();
  const byKey = new Map(ingresses.map((i) => [ingressKey(i), i]));
  const errorPagesOf = (ingress: string, backend: string | null) => {
    const a = policies.get(ingress)?.errorPages;
    if (a === undefined) return undefined;
    if (!fallbacks.has(ingress)) {
      const ing = byKey.get(ingress)!;
      const field = `metadata.annotations[${JSON.stringify(readAnnotation(ing.metadata, 'default-backend')?.key)}]`;
      const ref = a.defaultBackend === null ? null : firstPortRef(snapshot, ing.metadata.namespace, a.defaultBackend);
      if (a.defaultBackend !== null && ref === null) conditions.push(condition(ing, 'GH_SERVICE_NOT_FOUND', field, `default-backend: Service ${ing.metadata.namespace}/${a.defaultBackend} does not exist or has no port; the default backend (--default-backend-service) answers instead`));
      fallbacks.set(ingress, ref === null ? null : useBackend(ing, field, ref));
    }
    const b = backend === null ? undefined : backends[backend];
    return routeErrorPages(a, ingress, fallbacks.get(ingress)!, b?.service ?? '', b === undefined ? '' : String(b.port));
  };

  // Regex mode (ingress-nginx enforceRegexModifier): when any path of a host comes from an Ingress
  // with use-regex or a rewrite-target, the host's ImplementationSpecific paths are regexes.
  const regexHosts = new Set<string>();
  for (const c of read.routes) {
    const rewrite = policies.get(ingressKey(c.ingress))?.rewrite;
    if (rewrite !== undefined && wantsRegexMode(rewrite, c.written)) regexHosts.add(c.host);
  }

  // Routes: for the same host, path and match type the oldest Ingress wins (stable sort
  // keeps rule order inside one Ingress); the loser gets a condition.
  const winners = new Map<string, { route: Route; field: string }>();
  /** The routes a canary may attach to, by host, pathType and path as written (canaryKey). */
  const mains = new Map<string, { route: Route; written: string }>();
  const byHost = new Map<string, Route[]>();
  for (let c of read.routes) {
    if (c.implementationSpecific && regexHosts.has(c.host)) {
      const re = compilePathRegex(c.written);
      if (typeof re === 'string') {
        conditions.push(condition(c.ingress, 'GH_INGRESS_PATH_INVALID', `${c.field}.path`, re));
        continue;
      }
      c = { ...c, path: c.written, match: 'Regex' };
    } else if (c.match === 'Regex') {
      conditions.push(condition(c.ingress, 'GH_INGRESS_PATH_INVALID', `${c.field}.path`,
        `path ${JSON.stringify(c.written)} is a regular expression, and no Ingress of ${c.host === '' ? 'the catch-all host' : `host ${JSON.stringify(c.host)}`} sets use-regex or rewrite-target`));
      continue;
    }
    const key = `${c.host} ${c.match} ${c.path}`;
    const won = winners.get(key);
    if (won) {
      conditions.push(condition(c.ingress, 'GH_ROUTE_CONFLICT', c.field,
        `host ${JSON.stringify(c.host)} ${c.match} path ${JSON.stringify(c.path)} is already routed by ${won.route.ingress === ingressKey(c.ingress) ? `this Ingress at ${won.field}` : `Ingress ${won.route.ingress} (${won.field}), which is older`}`));
      continue;
    }
    const backend = useBackend(c.ingress, `${c.field}.backend.service`, c.backend);
    const upstream = upstreamFor(ingressKey(c.ingress), backend);
    const routePolicies = policiesOf(ingressKey(c.ingress), c.written, c.match === 'Regex' ? c.path : null, backend);
    const route: Route = { path: c.path, match: c.match, backend, ingress: ingressKey(c.ingress), sslRedirect: sslRedirect(ingressKey(c.ingress), c.host), ...(upstream ? { upstream } : {}), ...(routePolicies ? { policies: routePolicies } : {}) };
    winners.set(key, { route, field: c.field });
    if (canaryRead.routes.length > 0) mains.set(canaryKey(c), { route, written: c.written });
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

  // Canaries attach to the routes above (and host default backends), the oldest canary first: as
  // ingress-nginx (balancer.lua takes alternative_backends[1]) one canary serves a route.
  const routeCanary = new Map<Route, CanaryPolicy>();
  const hostCanary = new Map<string, CanaryPolicy>();
  const attachedBy = new Map<string, string>();
  /** Attaches canary `c` to `target` (the main's route or host default), `backendField` naming its Service. */
  const attach = (c: RouteCandidate | DefaultCandidate, backendField: string, target: string, main: { ingress: string; written: string; regex: string | null }, set: (p: CanaryPolicy) => void): void => {
    const ing = c.ingress;
    const had = attachedBy.get(target);
    if (had !== undefined) {
      if (had !== ingressKey(ing)) conditions.push(condition(ing, 'GH_CANARY_CONFLICT', c.field, `the canary Ingress ${had}, which is older, is already attached to the ${target}; one canary serves it (as in ingress-nginx)`));
      return;
    }
    attachedBy.set(target, ingressKey(ing));
    const own = policies.get(ingressKey(ing))!;
    const backend = useBackend(ing, backendField, c.backend);
    // The main Ingress's upstream settings; the canary's own balance (ingress-nginx keeps load-balance, upstream-hash-by and affinity).
    const upstream = upstreamFor(main.ingress, backend);
    const balance = own.policies.balance;
    set({ ...own.canary!.rules, backend, ingress: ingressKey(ing), ...(upstream ? { upstream } : {}), ...(balance ? { balance: routeBalance(balance, main.written, main.regex !== null) } : {}) });
  };
  const noMain = (c: RouteCandidate | DefaultCandidate, what: string) => conditions.push(condition(c.ingress, 'GH_CANARY_NO_MAIN', c.field, `no main Ingress ${what}, so this canary has nothing to attach to and is not served`));
  const hostDefault = (host: string) => (host === '' ? 'catch-all default backend' : `default backend of host ${JSON.stringify(host)}`);
  for (const c of canaryRead.routes) {
    const key = canaryKey(c);
    const main = mains.get(key);
    // A Prefix `/` is ingress-nginx's root location, which a host's default backend serves when no Ingress routes `/`.
    const onDefault = main === undefined && c.written === '/' && !c.implementationSpecific && c.match === 'Prefix' ? defaults.get(c.host) : undefined;
    const field = `${c.field}.backend.service`;
    if (main !== undefined) attach(c, field, `route of ${key}`, { ingress: main.route.ingress, written: main.written, regex: main.route.match === 'Regex' ? main.route.path : null }, (p) => routeCanary.set(main.route, p));
    else if (onDefault !== undefined) attach(c, field, hostDefault(c.host), { ingress: onDefault.ingress, written: '/', regex: null }, (p) => hostCanary.set(c.host, p));
    else noMain(c, `routes ${key}`);
  }
  for (const d of canaryRead.defaults) {
    const main = defaults.get(d.host);
    if (main !== undefined) attach(d, `${d.field}.service`, hostDefault(d.host), { ingress: main.ingress, written: '/', regex: null }, (p) => hostCanary.set(d.host, p));
    else noMain(d, `sets the ${hostDefault(d.host)}`);
  }
  const withCanary = (r: Route): Route => {
    const canary = routeCanary.get(r);
    return canary === undefined ? r : { ...r, policies: { ...r.policies, canary } };
  };

  const defaultUpstream = (host: string): { defaultUpstream?: UpstreamPolicy } => {
    const d = defaults.get(host);
    const upstream = d === undefined ? undefined : upstreamFor(d.ingress, d.backend);
    return upstream === undefined ? {} : { defaultUpstream: upstream };
  };
  const clientCerts = clientCertsByHost(ingresses.flatMap((ing) => {
    const p = policies.get(ingressKey(ing));
    // A canary's annotations other than canary-* are ignored, as its hosts (ingress-nginx skips canaries building servers).
    return p?.clientCert === undefined || p.canary?.enabled === true ? [] : [{ ingress: ing, hosts: ruleHosts(ing), clientCert: p.clientCert }];
  }), (ing, field, message) => conditions.push(condition(ing, 'GH_CLIENT_CERT_CONFLICT', field, message)));
  const hosts: VirtualHost[] = [...read.hosts].map((host) => {
    // The Ingress whose annotations hold for the host's unmatched paths (ingress-nginx's root location).
    const owner = defaults.get(host)?.ingress ?? firstIngress.get(host);
    const canary = hostCanary.get(host);
    const ownPolicies = policiesOf(owner, '/', null, defaults.get(host)?.backend ?? null);
    // auth-tls-* is per host: on every route of it, whichever Ingress routes it.
    const clientCert = clientCerts.get(host);
    const withClientCert = (p: RoutePolicies | undefined) => (clientCert === undefined ? p : { ...p, clientCert });
    const defaultPolicies = withClientCert(canary === undefined ? ownPolicies : { ...ownPolicies, canary });
    return {
      host,
      routes: (byHost.get(host) ?? []).map(withCanary).map((r) => (clientCert === undefined ? r : { ...r, policies: withClientCert(r.policies) })).sort((a, b) => cmp(a.path, b.path) || cmp(a.match, b.match)),
      defaultBackend: defaults.get(host)?.backend ?? null,
      tls: hasTls(host),
      sslRedirect: sslRedirect(owner, host),
      ...defaultUpstream(host),
      ...(defaultPolicies ? { defaultPolicies } : {}),
    };
  });
  // from-to-www-redirect: the other name of a host one of whose routes asks for it answers a
  // redirect to the host, unless some Ingress names it (ingress-nginx omits the redirect then).
  const wwwFor = new Map<string, string>();
  for (const [host, routes] of byHost) {
    const alias = wwwAlias(host);
    if (alias === null || read.hosts.has(alias) || wwwFor.has(alias)) continue;
    if (routes.some((r) => policies.get(r.ingress)?.fromToWww === true)) wwwFor.set(alias, host);
  }
  for (const [alias, host] of wwwFor) {
    hosts.push({ host: alias, routes: [], defaultBackend: null, tls: hasTls(alias), sslRedirect: false, defaultPolicies: { redirect: { host: { host, code: WWW_REDIRECT_CODE } } } });
  }
  // server-alias (processors/aliases.ts): copies of their hosts; a canary's are not read (it makes no hosts).
  const aliasRequests = ingresses.flatMap((ing) => {
    const p = policies.get(ingressKey(ing));
    const aliases = p?.canary?.enabled === true ? undefined : p?.aliases;
    return aliases === undefined ? [] : [{ ing, aliases, hosts: ruleHosts(ing), field: `metadata.annotations[${JSON.stringify(readAnnotation(ing.metadata, 'server-alias')?.key)}]` }];
  });
  const aliased = aliasHosts(aliasRequests, hosts, hasTls);
  hosts.push(...aliased.hosts);
  conditions.push(...aliased.conditions);
  hosts.sort((a, b) => cmp(a.host, b.host));
  for (const [id, health] of backendHealth(backendsOf, ingresses, policies, conditions)) backends[id] = { ...backends[id]!, health };
  // proxy-ssl-secret and auth-secret Secrets too: their data travels to the workers apart from the table.
  const annotationSecrets = new Set<string>();
  for (const vh of hosts) for (const u of [...vh.routes.map((r) => r.upstream), vh.defaultUpstream]) if (u?.tls?.secret) annotationSecrets.add(u.tls.secret.ref);
  for (const vh of hosts) for (const p of [...vh.routes.map((r) => r.policies), vh.defaultPolicies]) if (p?.basicAuth) annotationSecrets.add(p.basicAuth.secret.ref);
  for (const c of clientCerts.values()) annotationSecrets.add(c.secret.ref);
  return { hosts, backends, bindings: [...bindings.values()], conditions, acme, annotationSecrets: [...annotationSecrets], accepted: [...policies.keys()] };
}

/**
 * The table's fingerprint: of its body with its hosts, backends and TLS bindings as their digests'
 * sums (so that those a compile kept cost nothing), and of the contents of the Secrets it names.
 */
function tableFingerprint(body: { readonly hosts: readonly VirtualHost[]; readonly backends: Readonly<Record<string, Backend>>; readonly tls: readonly TlsBinding[] }, merged: Merged, backendsSum: DigestSum, secrets: readonly [number, ...DigestSum]): string {
  return fingerprint(JSON.stringify({ ...body, hosts: [body.hosts.length, ...merged.hostsSum], backends: [Object.keys(body.backends).length, ...backendsSum], tls: [body.tls.length, ...merged.tlsSum], secrets }));
}

/** The table and the rest of compile's result from the parts (each group's, or the one of all Ingresses) merged, and the settings. */
function finish(snapshot: Snapshot, options: CompileOptions, global: ReturnType<typeof readGlobalConfig>, generation: number, merged: Merged, parts: readonly Part[], configMaps: readonly string[], conditions: Condition[]): CompileResult {
  let backends = merged.backends;
  let backendsSum = merged.backendsSum;
  for (const p of parts) conditions.push(...p.conditions);
  let defaultBackend: string | null = null;
  if (options.defaultBackendService !== null) {
    const b = resolveDefaultBackendService(snapshot, options.defaultBackendService, conditions);
    // It replaces a route's backend of the same id, whose health checks still apply.
    const had = backends[b.id];
    const own = had?.health === undefined ? b : { ...b, health: had.health };
    if (had !== undefined) backendsSum = addDigest(backendsSum, had, -1);
    backendsSum = addDigest(backendsSum, deepFreeze(own), 1);
    const all: Record<string, Backend> = { ...backends, [b.id]: own };
    // In id order, as the parts' backends are.
    backends = had === undefined ? Object.fromEntries(Object.keys(all).sort().map((id) => [id, all[id]!])) : all;
    defaultBackend = b.id;
  }
  const defaultCertificate = options.defaultSslCertificate ?? null;
  // The named Secrets' contents: kept in the merge while the snapshot's Secrets stay.
  const revision = snapshot.revision('Secret');
  if (merged.secrets?.revision !== revision) {
    let sum: DigestSum = [0, 0];
    for (const ref of merged.refs.keys()) sum = addHex(sum, secretDigest(snapshot, ref), 1);
    merged.secrets = { revision, sum };
  }
  let secrets: [number, ...DigestSum] = [merged.refs.size, ...merged.secrets.sum];
  if (defaultCertificate !== null && !merged.refs.has(defaultCertificate)) secrets = [merged.refs.size + 1, ...addHex(merged.secrets.sum, secretDigest(snapshot, defaultCertificate), 1)];
  // The ConfigMap's proxy-body-size, carried only when it is not the default (DEFAULT_PROXY_BODY_SIZE).
  const bodySize = options.proxyBodySize ?? DEFAULT_PROXY_BODY_SIZE;
  const body = { hosts: merged.hosts, defaultBackend, backends, tls: merged.tls, defaultCertificate, ...(bodySize !== DEFAULT_PROXY_BODY_SIZE ? { proxyBodySize: bodySize } : {}), ...(global.policy ? { global: global.policy } : {}) };
  const table: RouteTable = { generation, fingerprint: tableFingerprint(body, merged, backendsSum, secrets), ...body };
  sortConditions(printableConditions(conditions));
  return {
    // Its hosts and TLS bindings are frozen already (merge).
    table: deepFreeze(table),
    conditions: deepFreeze(conditions),
    ingresses: merged.ingresses,
    accepted: merged.accepted,
    acme: merged.acme,
    annotationSecrets: merged.annotationSecrets,
    configMaps: Object.freeze([...new Set(configMaps)].sort(cmp)),
  };
}
