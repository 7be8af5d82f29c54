// A Kubernetes API server for tests: a real HTTP server on 127.0.0.1 (ephemeral port), in memory,
// that the real `@kubernetes/client-node` talks to through `api.kubeConfig()` or a kubeconfig file
// (`api.kubeconfigYaml()`). Paths, verbs, Status objects, resourceVersions and watch streams follow
// https://kubernetes.io/docs/reference/using-api/api-concepts/ ; what the emulator leaves out is
// listed at the end of this comment.
//
//   const api = await startKubeApi({ token: 't' });
//   const kc = api.kubeConfig();                          // cluster server=api.url, skipTLSVerify, token
//   api.create({ apiVersion: 'networking.k8s.io/v1', kind: 'Ingress', metadata: { namespace: 'ns', name: 'a' }, spec: {} });
//   api.faults.dropWatches();                             // and failNext, refuse, delay, hold, expireResourceVersions
//   api.requests.filter((r) => r.verb === 'update' && r.subresource === 'status').length;
//   await api.close();
//
// Served (both cluster-wide and namespaced collections for namespaced types):
//   /api/v1: namespaces (+/status), services (+/status), secrets, configmaps, events
//   /apis/networking.k8s.io/v1: ingresses (+/status), ingressclasses (cluster-scoped)
//   /apis/discovery.k8s.io/v1: endpointslices     /apis/coordination.k8s.io/v1: leases
//   /apis/events.k8s.io/v1: events (a store of its own, not shared with core v1 events)
//   discovery documents (/api, /apis, /api/v1, /apis/<g>/<v>), /version, /healthz, /livez, /readyz
//   the deprecated `/watch/` path prefix
//
// Semantics:
// - One global revision (etcd's): every write gets the next integer as its resourceVersion.
//   Lists carry the current revision in metadata.resourceVersion and omit kind/apiVersion on
//   items, as the real server does; get/create/update/patch answers and watch objects carry them.
// - Watch (`watch=true|1`, or `/watch/`): headers are flushed at once; newline-delimited
//   `{type, object}`. `resourceVersion=N` replays the events after N; unset or "0" starts with a
//   synthetic ADDED per existing object. Below the compaction point (`faults.expireResourceVersions()`)
//   the answer is 200 with one `ERROR` event carrying a 410 `Expired` Status, then the stream ends:
//   what the real server's watch cache does (it never answers a watch with HTTP 410).
//   A MODIFIED object that enters a selector arrives as ADDED, one that leaves it as DELETED.
//   `allowWatchBookmarks=true` adds a BOOKMARK (`{kind, apiVersion, metadata: {resourceVersion}}`)
//   every `bookmarkIntervalMs`; `timeoutSeconds` ends the stream.
// - Lists: `labelSelector` (=, ==, !=, exists, !key, in, notin, >, <), `fieldSelector`
//   (metadata.name, metadata.namespace, and per type: Secret `type`, core Event `involvedObject.*`,
//   `reason`, `type`, `source`, ...; anything else is 400 like the real server), `limit`/`continue`.
// - Writes: see ./kube-api-emulator/store.ts (409 Conflict on a stale metadata.resourceVersion,
//   409 AlreadyExists, 404 NotFound, no-op updates write nothing, status subresources). PATCH takes
//   JSON Patch, merge patch and strategic merge patch (approximated as a merge patch); `dryRun=All`
//   is honoured; DELETE takes DeleteOptions preconditions.
// - Auth: with `token`, requests without `Authorization: Bearer <token>` get 401 (except /version
//   and the health paths, public as in a real cluster); `forbidden` rules (RBAC-style verb and
//   resource, `ingresses/status` for a subresource) answer 403 with the real message shape.
// - Order of checks per request: delay, hold, failNext, authentication (401), authorization (403),
//   then the API itself. Every answered request is appended to `api.requests`, with the time it
//   was answered (`at`, performance.now()).
// Not emulated: server-side apply (415), finalizers and graceful deletion, namespace existence
// checks, managedFields, protobuf, list at an older resourceVersion (lists are always current),
// `sendInitialEvents`, the 504 for a resourceVersion newer than the store's (such a watch just
// waits for it), field validation beyond names.

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { KubeConfig } from '@kubernetes/client-node';
import { stringify as toYaml } from 'yaml';
import { applyJsonPatch, applyMergePatch, PatchError } from './kube-api-emulator/patch.ts';
import { fieldValue, findResource, qualifiedName, resolveResource, RESOURCES, type Obj, type ResourceType } from './kube-api-emulator/resources.ts';
import { matchesFields, matchesLabels, parseFieldSelector, parseLabelSelector, SelectorError } from './kube-api-emulator/selectors.ts';
import { badRequest, error, expired, failure, KubeApiError, success, type Status } from './kube-api-emulator/status.ts';
import { Store, type StoreEvent, type UpdateMode } from './kube-api-emulator/store.ts';

export { KubeApiError } from './kube-api-emulator/status.ts';
export type { Status } from './kube-api-emulator/status.ts';

export type Verb = 'get' | 'list' | 'watch' | 'create' | 'update' | 'patch' | 'delete' | 'deletecollection';

/** A Kubernetes object as stored: plain JSON. */
export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata?: {
    name?: string;
    namespace?: string;
    resourceVersion?: string;
    uid?: string;
    generation?: number;
    creationTimestamp?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    [k: string]: unknown;
  };
  [k: string]: unknown;
}

/**
 * A type as tests name it: `Ingress`, `ingresses`, `ingresses.networking.k8s.io`,
 * `networking.k8s.io/v1/Ingress`. A bare `Event`/`events` is core v1.
 */
export type KindRef = string;

/** An RBAC-like rule that makes matching requests answer 403 Forbidden. */
export interface ForbiddenRule {
  readonly verb: Verb | '*';
  /** `ingresses`, `ingresses/status` (a subresource is named separately, as in RBAC), or `*`. */
  readonly resource: string;
  /** API group ('' for core); any when unset. */
  readonly group?: string;
  /** Any namespace (and cluster-wide requests) when unset. */
  readonly namespace?: string;
  readonly name?: string;
}

export interface RequestRecord {
  readonly method: string;
  readonly path: string;
  readonly query: Readonly<Record<string, string>>;
  /** The HTTP status answered (for watches: 200 once the stream opened). 0 until answered. */
  status: number;
  /** When it was answered (for watches: when the stream opened), performance.now(); 0 until then. */
  at: number;
  readonly verb?: Verb;
  readonly group?: string;
  /** The plural resource name (`ingresses`), without the subresource. */
  readonly resource?: string;
  readonly subresource?: string;
  readonly namespace?: string;
  readonly name?: string;
  readonly watch: boolean;
  readonly contentType?: string;
  /** The parsed JSON body of a write. */
  readonly body?: unknown;
  /** Set when a fault answered instead of the API (`failNext`). */
  fault?: 'failNext';
}

/**
 * Which requests a fault applies to. Fields must all match; `resource` is compared like a
 * {@link ForbiddenRule}'s (`ingresses` does not match `ingresses/status`). A function gets the record.
 */
export type RequestMatch =
  | {
    readonly method?: string;
    readonly verb?: Verb;
    readonly group?: string;
    readonly resource?: string;
    readonly namespace?: string;
    readonly name?: string;
    readonly watch?: boolean;
    readonly path?: string | RegExp;
  }
  | ((request: RequestRecord) => boolean);

export interface WatchInfo {
  readonly path: string;
  readonly query: Readonly<Record<string, string>>;
  readonly resource: string;
  readonly group: string;
  readonly namespace?: string;
  /** The resourceVersion the watch started from ('' when unset). */
  readonly resourceVersion: string;
}

export interface KubeApiFaults {
  /**
   * Ends every open watch stream. By default cleanly (the chunked response ends, as when the API
   * server's watch timeout fires); `abrupt` destroys the sockets instead (a crashed server or cut
   * network). Returns how many streams were ended.
   */
  dropWatches(options?: { abrupt?: boolean; match?: RequestMatch }): number;
  /** The next `n` requests that match answer `status` (default 500) with a Status body. */
  failNext(n: number, status?: number, match?: RequestMatch): void;
  /**
   * `true`: stop listening and destroy every connection, so new connections get ECONNREFUSED.
   * `false`: listen again on the same port. Idempotent.
   */
  refuse(on: boolean): Promise<void>;
  /** Holds every matching request (including watch headers) for `ms` before answering; 0 stops. */
  delay(ms: number, match?: RequestMatch): void;
  /**
   * Holds every matching request (including watch headers) until `release()`: a delay that ends
   * when the test says so rather than after a time. `held()` is how many are waiting now.
   * close() releases every hold.
   */
  hold(match?: RequestMatch): Hold;
  /** Compacts: any resourceVersion older than the current one now gets a 410 on watch (and continue). */
  expireResourceVersions(): void;
}

export interface Hold {
  held(): number;
  /** Lets the held requests (and later matching ones) through. Safe to call twice. */
  release(): void;
}

export interface KubeApiOptions {
  /** When set, every API request needs `Authorization: Bearer <token>` (401 otherwise). */
  readonly token?: string;
  /** Rules answered with 403; also reachable (and mutable) as `api.forbidden`. */
  readonly forbidden?: readonly ForbiddenRule[];
  /** Interval of BOOKMARK events for watches that allow them; default 1000 ms. */
  readonly bookmarkIntervalMs?: number;
  /** The user named in 403 messages. */
  readonly user?: string;
  /** The clock for creationTimestamp. */
  readonly clock?: () => Date;
}

export interface KubeConfigOptions {
  /** Token to present; default the server's token. `null` presents none. */
  readonly token?: string | null;
  /** The context's default namespace. */
  readonly namespace?: string;
}

export interface KubeApi {
  /** `http://127.0.0.1:<port>`; stays the same across `faults.refuse`. */
  readonly url: string;
  readonly port: number;
  /** A client-node KubeConfig for this server (cluster server=url, skipTLSVerify, user token). */
  kubeConfig(options?: KubeConfigOptions): KubeConfig;
  /** The same as a kubeconfig file, for `--kubeconfig`. */
  kubeconfigYaml(options?: KubeConfigOptions): string;
  /** The current global resourceVersion (the last write's). */
  readonly resourceVersion: string;

  /**
   * Creates as a client would (409 AlreadyExists as a thrown KubeApiError) but keeps `status`.
   * A namespaced object without metadata.namespace goes to `default`.
   */
  create(obj: KubeObject): KubeObject;
  /** Replaces the whole stored object, status included, whatever resourceVersion it carries. 404 when missing. */
  update(obj: KubeObject): KubeObject;
  /** Creates or replaces (status included). */
  apply(obj: KubeObject): KubeObject;
  /** JSON merge patch (RFC 7386) over the whole object, status included. */
  patch(kind: KindRef, namespace: string | undefined, name: string, mergePatch: Record<string, unknown>): KubeObject;
  /** Deletes; returns the last state (with the deletion's resourceVersion), or undefined when missing. */
  delete(kind: KindRef, namespace: string | undefined, name: string): KubeObject | undefined;
  get(kind: KindRef, namespace: string | undefined, name: string): KubeObject | undefined;
  /** All namespaces when `namespace` is undefined. Sorted by namespace/name. */
  list(kind: KindRef, namespace?: string): KubeObject[];

  readonly faults: KubeApiFaults;
  /** Every request answered, in the order answered. Clear with `api.requests.length = 0`. */
  readonly requests: RequestRecord[];
  /** The 403 rules; push and splice at will. */
  readonly forbidden: ForbiddenRule[];
  /** The watch streams open now. */
  openWatches(): WatchInfo[];
  /** Resolves when a matching watch stream is open (at once if one is); rejects after `timeoutMs` (default 5000). */
  waitForWatch(match?: Partial<Pick<WatchInfo, 'resource' | 'group' | 'namespace'>>, timeoutMs?: number): Promise<WatchInfo>;
  /** Stops listening and cuts every connection. Safe to call twice. */
  close(): Promise<void>;
}

type Route =
  | { readonly type: 'json'; readonly body: unknown; readonly public?: boolean }
  | {
    readonly type: 'resource';
    readonly r: ResourceType;
    readonly namespace?: string;
    readonly name?: string;
    readonly subresource?: string;
    readonly watchPrefix: boolean;
  }
  | { readonly type: 'notFound' };

interface OpenWatch {
  readonly info: WatchInfo;
  readonly record: RequestRecord;
  readonly res: ServerResponse;
  end(abrupt: boolean): void;
}

interface FailRule {
  remaining: number;
  readonly status: number;
  readonly match?: RequestMatch;
}

const VERSION = { major: '1', minor: '33', gitVersion: 'v1.33.0-gatehouse-emulator', platform: 'linux/amd64' };

function isTrue(v: string | null, name: string): boolean {
  if (v === null || v === '') return false;
  if (['1', 't', 'T', 'true', 'TRUE', 'True'].includes(v)) return true;
  if (['0', 'f', 'F', 'false', 'FALSE', 'False'].includes(v)) return false;
  throw badRequest(`invalid value for ${name}: ${JSON.stringify(v)}`);
}

function clone<T>(v: T): T {
  return structuredClone(v);
}

function objMeta(o: Obj): Record<string, unknown> {
  return (o.metadata ?? {}) as Record<string, unknown>;
}

function route(pathname: string): Route {
  let segments: string[];
  try {
    segments = pathname.split('/').filter(Boolean).map(decodeURIComponent);
  } catch {
    return { type: 'notFound' };
  }
  const [root] = segments;
  if (segments.length === 1 && root === 'version') return { type: 'json', body: VERSION, public: true };
  if (segments.length === 1 && (root === 'healthz' || root === 'livez' || root === 'readyz')) return { type: 'json', body: 'ok', public: true };
  let group: string;
  let version: string | undefined;
  let rest: string[];
  if (root === 'api') {
    if (segments.length === 1) return { type: 'json', body: { kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [] } };
    group = '';
    version = segments[1];
    rest = segments.slice(2);
  } else if (root === 'apis') {
    if (segments.length === 1) return { type: 'json', body: apiGroupList() };
    group = segments[1]!;
    version = segments[2];
    rest = segments.slice(3);
    if (version === undefined) {
      const g = apiGroupList().groups.find((x) => x.name === group);
      return g ? { type: 'json', body: { kind: 'APIGroup', apiVersion: 'v1', ...g } } : { type: 'notFound' };
    }
  } else {
    return { type: 'notFound' };
  }
  if (rest.length === 0) {
    const resources = RESOURCES.filter((r) => r.group === group && r.version === version);
    if (!resources.length) return { type: 'notFound' };
    return { type: 'json', body: apiResourceList(group, version!, resources) };
  }
  const watchPrefix = rest[0] === 'watch';
  if (watchPrefix) rest = rest.slice(1);
  const res = (plural: string | undefined, extra: { namespace?: string; name?: string; subresource?: string }): Route => {
    const r = plural === undefined ? undefined : findResource(group, version!, plural);
    if (!r) return { type: 'notFound' };
    if (extra.namespace !== undefined && !r.namespaced) return { type: 'notFound' };
    if (extra.subresource !== undefined && !(extra.subresource === 'status' && r.statusSubresource)) return { type: 'notFound' };
    return { type: 'resource', r, watchPrefix, ...extra };
  };
  // /namespaces/{ns}/{plural}[/{name}[/{sub}]] versus the Namespace objects themselves.
  if (group === '' && rest[0] === 'namespaces' && rest.length >= 3 && rest[2] !== 'status' && rest[2] !== 'finalize') {
    if (rest.length > 5) return { type: 'notFound' };
    return res(rest[2], { namespace: rest[1], name: rest[3], subresource: rest[4] });
  }
  if (group !== '' && rest[0] === 'namespaces' && rest.length >= 3) {
    if (rest.length > 5) return { type: 'notFound' };
    return res(rest[2], { namespace: rest[1], name: rest[3], subresource: rest[4] });
  }
  if (rest.length > 3) return { type: 'notFound' };
  const r = findResource(group, version!, rest[0]!);
  // A namespaced type at the cluster level is only a collection (all namespaces).
  if (r?.namespaced && rest.length > 1) return { type: 'notFound' };
  return res(rest[0], { name: rest[1], subresource: rest[2] });
}

function apiGroupList(): { kind: string; apiVersion: string; groups: Array<{ name: string; versions: Array<{ groupVersion: string; version: string }>; preferredVersion: { groupVersion: string; version: string } }> } {
  const names = [...new Set(RESOURCES.filter((r) => r.group).map((r) => r.group))];
  return {
    kind: 'APIGroupList',
    apiVersion: 'v1',
    groups: names.map((name) => {
      const versions = [...new Set(RESOURCES.filter((r) => r.group === name).map((r) => r.version))]
        .map((version) => ({ groupVersion: `${name}/${version}`, version }));
      return { name, versions, preferredVersion: versions[0]! };
    }),
  };
}

function apiResourceList(group: string, version: string, resources: readonly ResourceType[]): unknown {
  const verbs = ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'];
  return {
    kind: 'APIResourceList',
    apiVersion: 'v1',
    groupVersion: group ? `${group}/${version}` : version,
    resources: resources.flatMap((r) => [
      { name: r.plural, singularName: r.singular, namespaced: r.namespaced, kind: r.kind, verbs },
      ...(r.statusSubresource ? [{ name: `${r.plural}/status`, singularName: '', namespaced: r.namespaced, kind: r.kind, verbs: ['get', 'patch', 'update'] }] : []),
    ]),
  };
}

function verbOf(method: string, route: Extract<Route, { type: 'resource' }>, watch: boolean): Verb | undefined {
  const collection = route.name === undefined;
  switch (method) {
    case 'GET': return watch || route.watchPrefix ? 'watch' : collection ? 'list' : 'get';
    case 'POST': return collection ? 'create' : undefined;
    case 'PUT': return collection ? undefined : 'update';
    case 'PATCH': return collection ? undefined : 'patch';
    case 'DELETE': return collection ? 'deletecollection' : 'delete';
    default: return undefined;
  }
}

function resourceMatches(rule: string, record: RequestRecord): boolean {
  if (rule === '*') return true;
  return rule === (record.subresource ? `${record.resource}/${record.subresource}` : record.resource);
}

function requestMatches(match: RequestMatch | undefined, record: RequestRecord): boolean {
  if (match === undefined) return true;
  if (typeof match === 'function') return match(record);
  if (match.method !== undefined && match.method.toUpperCase() !== record.method) return false;
  if (match.verb !== undefined && match.verb !== record.verb) return false;
  if (match.group !== undefined && match.group !== record.group) return false;
  if (match.resource !== undefined && !resourceMatches(match.resource, record)) return false;
  if (match.namespace !== undefined && match.namespace !== record.namespace) return false;
  if (match.name !== undefined && match.name !== record.name) return false;
  if (match.watch !== undefined && match.watch !== record.watch) return false;
  if (match.path !== undefined) {
    if (typeof match.path === 'string' ? !record.path.startsWith(match.path) : !match.path.test(record.path)) return false;
  }
  return true;
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

export async function startKubeApi(options: KubeApiOptions = {}): Promise<KubeApi> {
  const store = new Store(options.clock);
  const requests: RequestRecord[] = [];
  const forbidden: ForbiddenRule[] = [...(options.forbidden ?? [])];
  const bookmarkIntervalMs = options.bookmarkIntervalMs ?? 1000;
  const user = options.user ?? 'system:serviceaccount:gatehouse:gatehouse';
  const watches = new Set<OpenWatch>();
  const watchWaiters = new Set<(w: OpenWatch) => void>();
  const sockets = new Set<Socket>();
  const failRules: FailRule[] = [];
  let delayRule: { ms: number; match?: RequestMatch } | undefined;
  const holds = new Set<{ match?: RequestMatch; waiting: Set<() => void> }>();
  let refusing = false;
  let closing: Promise<void> | undefined;

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (!res.headersSent && !res.destroyed) {
        res.writeHead(500, { 'Content-Type': 'application/json' }).end(JSON.stringify(failure(500, String(err))));
      } else {
        res.destroy();
      }
    });
  });
  // Watches are long-lived; nothing here should time a request out.
  server.requestTimeout = 0;
  server.headersTimeout = 0;
  server.timeout = 0;
  server.keepAliveTimeout = 5000;
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });

  const listen = (port: number): Promise<void> => new Promise((resolve, reject) => {
    const onError = (err: Error): void => reject(err);
    server.once('error', onError);
    server.listen({ port, host: '127.0.0.1', exclusive: true }, () => {
      server.off('error', onError);
      resolve();
    });
  });
  const stopListening = (): Promise<void> => new Promise((resolve) => {
    for (const w of [...watches]) w.end(true);
    server.close(() => resolve());
    for (const s of sockets) s.destroy();
    server.closeAllConnections();
  });

  await listen(0);
  const port = (server.address() as AddressInfo).port;
  const url = `http://127.0.0.1:${port}`;

  function send(res: ServerResponse, record: RequestRecord, status: number, body: unknown, headers: Record<string, string> = {}): void {
    record.status = status;
    record.at = performance.now();
    requests.push(record);
    if (res.destroyed || res.headersSent) return;
    res.writeHead(status, { 'Content-Type': 'application/json', 'Cache-Control': 'no-cache, private', ...headers });
    res.end(typeof body === 'string' ? body : JSON.stringify(body));
  }

  function sendError(res: ServerResponse, record: RequestRecord, err: unknown): void {
    let status: Status;
    if (err instanceof KubeApiError) status = err.status;
    else if (err instanceof PatchError) status = failure(err.code, err.message);
    else if (err instanceof SelectorError) status = failure(400, err.message);
    else status = failure(500, `Internal error occurred: ${err instanceof Error ? err.message : String(err)}`);
    const headers: Record<string, string> = status.code === 429 ? { 'Retry-After': '1' } : {};
    send(res, record, status.code, status, headers);
  }

  function forbiddenStatus(record: RequestRecord, r: ResourceType): Status | undefined {
    const rule = forbidden.find((f) => (f.verb === '*' || f.verb === record.verb)
      && resourceMatches(f.resource, record)
      && (f.group === undefined || f.group === r.group)
      && (f.namespace === undefined || f.namespace === record.namespace)
      && (f.name === undefined || f.name === record.name));
    if (!rule) return undefined;
    const resource = record.subresource ? `${r.plural}/${record.subresource}` : r.plural;
    const subject = record.name ? `${qualifiedName(r)} "${record.name}"` : qualifiedName(r);
    const scope = record.namespace !== undefined ? `in the namespace "${record.namespace}"` : 'at the cluster scope';
    const message = `${subject} is forbidden: User "${user}" cannot ${record.verb} resource "${resource}" in API group "${r.group}" ${scope}`;
    return failure(403, message, 'Forbidden', { ...(record.name ? { name: record.name } : {}), ...(r.group ? { group: r.group } : {}), kind: r.plural });
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const method = req.method ?? 'GET';
    const u = new URL(req.url ?? '/', url);
    const query = Object.fromEntries(u.searchParams);
    const rt = route(u.pathname);
    const raw = await readBody(req);
    const contentType = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
    let watch = false;
    let parsedBody: unknown;
    let bodyError: unknown;
    if (raw.length) {
      try {
        parsedBody = JSON.parse(raw.toString('utf8'));
      } catch (err) {
        bodyError = err;
      }
    }
    let verb: Verb | undefined;
    let watchError: unknown;
    if (rt.type === 'resource') {
      try {
        watch = isTrue(u.searchParams.get('watch'), 'watch') || rt.watchPrefix;
      } catch (err) {
        watchError = err;
      }
      verb = verbOf(method, rt, watch);
    }
    const record: RequestRecord = {
      method,
      path: u.pathname,
      query,
      status: 0,
      at: 0,
      watch: verb === 'watch',
      ...(rt.type === 'resource' ? {
        verb,
        group: rt.r.group,
        resource: rt.r.plural,
        ...(rt.subresource !== undefined ? { subresource: rt.subresource } : {}),
        ...(rt.namespace !== undefined ? { namespace: rt.namespace } : {}),
        ...(rt.name !== undefined ? { name: rt.name } : {}),
      } : {}),
      ...(contentType ? { contentType } : {}),
      ...(parsedBody !== undefined ? { body: parsedBody } : {}),
    };

    if (delayRule && delayRule.ms > 0 && requestMatches(delayRule.match, record)) {
      const ms = delayRule.ms;
      await new Promise((resolve) => setTimeout(resolve, ms));
      if (res.destroyed) return;
    }
    const hold = [...holds].find((h) => requestMatches(h.match, record));
    if (hold) {
      await new Promise<void>((resolve) => hold.waiting.add(resolve));
      if (res.destroyed) return;
    }
    const rule = failRules.find((f) => f.remaining > 0 && requestMatches(f.match, record));
    if (rule) {
      rule.remaining--;
      record.fault = 'failNext';
      const reason = rule.status >= 500 ? `Internal error occurred: injected fault` : 'injected fault';
      sendError(res, record, error(rule.status, reason, undefined, { causes: [{ message: 'injected fault' }] }));
      return;
    }
    const isPublic = rt.type === 'json' && rt.public === true;
    if (options.token !== undefined && !isPublic && req.headers.authorization !== `Bearer ${options.token}`) {
      send(res, record, 401, failure(401, 'Unauthorized', 'Unauthorized'));
      return;
    }
    if (rt.type === 'notFound') {
      send(res, record, 404, failure(404, 'the server could not find the requested resource', 'NotFound', {}));
      return;
    }
    if (rt.type === 'json') {
      if (method !== 'GET') {
        send(res, record, 405, failure(405, `the server does not allow this method on the requested resource`, 'MethodNotAllowed', {}));
        return;
      }
      send(res, record, 200, rt.body);
      return;
    }
    const r = rt.r;
    if (verb === undefined) {
      send(res, record, 405, failure(405, 'the server does not allow this method on the requested resource', 'MethodNotAllowed', {}));
      return;
    }
    const denied = forbiddenStatus(record, r);
    if (denied) {
      send(res, record, 403, denied);
      return;
    }
    try {
      if (watchError) throw watchError;
      if (bodyError) throw badRequest(`the body of the request was in an unknown format: ${String(bodyError)}`);
      const ns = rt.namespace ?? '';
      const dryRun = u.searchParams.getAll('dryRun').includes('All');
      switch (verb) {
        case 'get': {
          const obj = store.get(r, ns, rt.name!);
          if (!obj) throw error(404, `${qualifiedName(r)} "${rt.name}" not found`, 'NotFound', { name: rt.name!, ...(r.group ? { group: r.group } : {}), kind: r.plural });
          send(res, record, 200, obj);
          return;
        }
        case 'list':
          send(res, record, 200, listBody(r, rt.namespace, u.searchParams));
          return;
        case 'watch':
          startWatch(res, record, r, rt.namespace, rt.name, u.searchParams);
          return;
        case 'create': {
          if (contentType && contentType !== 'application/json') throw error(415, `the body of the request was in an unknown format - accepted media types include: application/json`);
          const created = store.create(r, ns, parsedBody, { dryRun });
          send(res, record, 201, created);
          return;
        }
        case 'update': {
          if (contentType && contentType !== 'application/json') throw error(415, `the body of the request was in an unknown format - accepted media types include: application/json`);
          const mode: UpdateMode = rt.subresource === 'status' ? 'status' : 'main';
          const { object, created } = store.update(r, ns, rt.name!, parsedBody, mode, { dryRun });
          send(res, record, created ? 201 : 200, object);
          return;
        }
        case 'patch': {
          const mode: UpdateMode = rt.subresource === 'status' ? 'status' : 'main';
          let apply: (current: Obj) => unknown;
          if (contentType === 'application/json-patch+json') apply = (cur) => applyJsonPatch(cur, parsedBody);
          else if (contentType === 'application/merge-patch+json' || contentType === 'application/strategic-merge-patch+json') {
            if (typeof parsedBody !== 'object' || parsedBody === null || Array.isArray(parsedBody)) throw badRequest('a merge patch must be a JSON object');
            apply = (cur) => applyMergePatch(cur, parsedBody);
          } else {
            throw error(415, `the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/strategic-merge-patch+json`);
          }
          send(res, record, 200, store.patch(r, ns, rt.name!, apply, mode, { dryRun }));
          return;
        }
        case 'delete': {
          const opts = (parsedBody ?? {}) as { preconditions?: { uid?: string; resourceVersion?: string } };
          const deleted = store.delete(r, ns, rt.name!, opts.preconditions ?? {}, { dryRun });
          send(res, record, 200, success(r, rt.name!, String(objMeta(deleted).uid)));
          return;
        }
        case 'deletecollection': {
          const items = selectAll(r, rt.namespace, u.searchParams);
          const deleted = items.map((o) => store.delete(r, String(objMeta(o).namespace ?? ''), String(objMeta(o).name), {}, { dryRun }));
          send(res, record, 200, { kind: `${r.kind}List`, apiVersion: r.apiVersion, metadata: { resourceVersion: String(store.revision) }, items: deleted.map(listItem) });
          return;
        }
      }
    } catch (err) {
      sendError(res, record, err);
    }
  }

  function selector(r: ResourceType, namespace: string | undefined, name: string | undefined, params: URLSearchParams): (o: Obj) => boolean {
    const labels = parseLabelSelector(params.get('labelSelector') ?? '');
    const fields = parseFieldSelector(params.get('fieldSelector') ?? '');
    for (const f of fields) {
      if (f.field !== 'metadata.name' && f.field !== 'metadata.namespace' && !Object.hasOwn(r.fields, f.field)) {
        throw badRequest(`"${f.field}" is not a known field selector: only "metadata.name", "metadata.namespace"${Object.keys(r.fields).map((k) => `, "${k}"`).join('')}`);
      }
    }
    return (o) => {
      const m = objMeta(o);
      if (namespace !== undefined && m.namespace !== namespace) return false;
      if (name !== undefined && m.name !== name) return false;
      return matchesLabels(labels, m.labels as Record<string, string> | undefined)
        && matchesFields(fields, (field) => fieldValue(o, field.startsWith('metadata.') ? field : r.fields[field]!));
    };
  }

  function selectAll(r: ResourceType, namespace: string | undefined, params: URLSearchParams): Obj[] {
    const match = selector(r, namespace, undefined, params);
    return store.list(r, namespace).filter(match);
  }

  function listItem(o: Obj): Obj {
    const { apiVersion: _a, kind: _k, ...rest } = o;
    return rest;
  }

  function listBody(r: ResourceType, namespace: string | undefined, params: URLSearchParams): unknown {
    let items = selectAll(r, namespace, params);
    let rv = String(store.revision);
    const cont = params.get('continue');
    if (cont) {
      let token: { rv: number; start: string };
      try {
        token = JSON.parse(Buffer.from(cont, 'base64url').toString('utf8')) as { rv: number; start: string };
      } catch {
        throw badRequest('continue key is not valid');
      }
      if (token.rv < store.compactedRevision) {
        throw new KubeApiError(expired('The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter.'));
      }
      rv = String(token.rv);
      items = items.filter((o) => store.keyOf(r, o) > token.start);
    }
    const metadata: Record<string, unknown> = { resourceVersion: rv };
    const limit = Number(params.get('limit') ?? 0);
    if (Number.isInteger(limit) && limit > 0 && items.length > limit) {
      const remaining = items.length - limit;
      items = items.slice(0, limit);
      metadata.continue = Buffer.from(JSON.stringify({ rv: Number(rv), start: store.keyOf(r, items[items.length - 1]!) })).toString('base64url');
      metadata.remainingItemCount = remaining;
    }
    return { kind: `${r.kind}List`, apiVersion: r.apiVersion, metadata, items: items.map(listItem) };
  }

  function startWatch(res: ServerResponse, record: RequestRecord, r: ResourceType, namespace: string | undefined, name: string | undefined, params: URLSearchParams): void {
    const match = selector(r, namespace, name, params);
    const rvParam = params.get('resourceVersion') ?? '';
    if (rvParam !== '' && !/^\d+$/.test(rvParam)) throw badRequest(`invalid resource version: ${JSON.stringify(rvParam)}`);
    const bookmarks = isTrue(params.get('allowWatchBookmarks'), 'allowWatchBookmarks');
    const timeoutSeconds = Number(params.get('timeoutSeconds') ?? 0);

    record.status = 200;
    record.at = performance.now();
    requests.push(record);
    res.writeHead(200, { 'Content-Type': 'application/json', 'Cache-Control': 'no-cache, private' });
    // client-node's Watch awaits the response headers before it reads anything.
    res.flushHeaders();
    const write = (type: string, object: unknown): void => {
      if (!res.destroyed && !res.writableEnded) res.write(`${JSON.stringify({ type, object })}\n`);
    };

    let backlog: StoreEvent[] | undefined;
    if (rvParam === '' || rvParam === '0') {
      for (const o of store.list(r, namespace).filter(match)) write('ADDED', o);
      backlog = [];
    } else {
      try {
        backlog = store.eventsSince(r, Number(rvParam));
      } catch (err) {
        // The watch cache answers a too-old resourceVersion with an ERROR event, not an HTTP 410.
        write('ERROR', err instanceof KubeApiError ? err.status : failure(500, String(err)));
        res.end();
        return;
      }
    }
    const deliver = (e: StoreEvent): void => {
      if (e.resource !== r) return;
      const now = match(e.object);
      const before = e.old !== undefined && match(e.old);
      if (e.type === 'ADDED') {
        if (now) write('ADDED', e.object);
      } else if (e.type === 'DELETED') {
        if (now || before) write('DELETED', e.object);
      } else if (now && before) write('MODIFIED', e.object);
      else if (now) write('ADDED', e.object);
      else if (before) write('DELETED', e.object);
    };
    for (const e of backlog) deliver(e);
    const unsubscribe = store.subscribe(deliver);
    const timers: NodeJS.Timeout[] = [];
    if (bookmarks) {
      timers.push(setInterval(() => write('BOOKMARK', { kind: r.kind, apiVersion: r.apiVersion, metadata: { resourceVersion: String(store.revision) } }), bookmarkIntervalMs));
    }
    if (Number.isFinite(timeoutSeconds) && timeoutSeconds > 0) timers.push(setTimeout(() => res.end(), timeoutSeconds * 1000));

    const w: OpenWatch = {
      info: {
        path: record.path,
        query: record.query,
        resource: r.plural,
        group: r.group,
        ...(namespace !== undefined ? { namespace } : {}),
        resourceVersion: rvParam,
      },
      record,
      res,
      end(abrupt) {
        if (abrupt) res.destroy();
        else res.end();
      },
    };
    watches.add(w);
    const cleanup = (): void => {
      unsubscribe();
      for (const t of timers) clearTimeout(t);
      watches.delete(w);
    };
    res.on('close', cleanup);
    for (const waiter of [...watchWaiters]) waiter(w);
  }

  function ns(r: ResourceType, namespace: string | undefined): string {
    return r.namespaced ? (namespace ?? 'default') : '';
  }

  const api: KubeApi = {
    url,
    port,
    get resourceVersion() {
      return String(store.revision);
    },
    kubeConfig(opts = {}) {
      const token = opts.token === undefined ? options.token : opts.token;
      const kc = new KubeConfig();
      kc.loadFromOptions({
        clusters: [{ name: 'emulator', server: url, skipTLSVerify: true }],
        users: [token === undefined || token === null ? { name: 'emulator' } : { name: 'emulator', token }],
        contexts: [{ name: 'emulator', cluster: 'emulator', user: 'emulator', ...(opts.namespace ? { namespace: opts.namespace } : {}) }],
        currentContext: 'emulator',
      });
      return kc;
    },
    kubeconfigYaml(opts = {}) {
      const token = opts.token === undefined ? options.token : opts.token;
      return toYaml({
        apiVersion: 'v1',
        kind: 'Config',
        clusters: [{ name: 'emulator', cluster: { server: url, 'insecure-skip-tls-verify': true } }],
        users: [{ name: 'emulator', user: token === undefined || token === null ? {} : { token } }],
        contexts: [{ name: 'emulator', context: { cluster: 'emulator', user: 'emulator', ...(opts.namespace ? { namespace: opts.namespace } : {}) } }],
        'current-context': 'emulator',
      });
    },
    create(obj) {
      const r = resolveResource(obj as { apiVersion?: string; kind?: string });
      return clone(store.create(r, ns(r, obj.metadata?.namespace), obj, { keepStatus: true })) as KubeObject;
    },
    update(obj) {
      const r = resolveResource(obj as { apiVersion?: string; kind?: string });
      const name = String(obj.metadata?.name ?? '');
      const namespace = ns(r, obj.metadata?.namespace);
      if (!store.get(r, namespace, name)) throw error(404, `${qualifiedName(r)} "${name}" not found`, 'NotFound');
      const { resourceVersion: _rv, ...m } = obj.metadata ?? {};
      return clone(store.update(r, namespace, name, { ...obj, metadata: m }, 'all').object) as KubeObject;
    },
    apply(obj) {
      const r = resolveResource(obj as { apiVersion?: string; kind?: string });
      return store.get(r, ns(r, obj.metadata?.namespace), String(obj.metadata?.name ?? '')) ? api.update(obj) : api.create(obj);
    },
    patch(kind, namespace, name, mergePatch) {
      const r = resolveResource(kind);
      const patch = clone(mergePatch);
      if (typeof patch.metadata === 'object' && patch.metadata !== null) delete (patch.metadata as Obj).resourceVersion;
      return clone(store.patch(r, ns(r, namespace), name, (cur) => applyMergePatch(cur, patch), 'all')) as KubeObject;
    },
    delete(kind, namespace, name) {
      const r = resolveResource(kind);
      if (!store.get(r, ns(r, namespace), name)) return undefined;
      return clone(store.delete(r, ns(r, namespace), name)) as KubeObject;
    },
    get(kind, namespace, name) {
      const r = resolveResource(kind);
      const o = store.get(r, ns(r, namespace), name);
      return o ? (clone(o) as KubeObject) : undefined;
    },
    list(kind, namespace) {
      const r = resolveResource(kind);
      return store.list(r, r.namespaced ? namespace : undefined).map((o) => clone(o) as KubeObject);
    },
    faults: {
      dropWatches(opts = {}) {
        let n = 0;
        for (const w of [...watches]) {
          if (!requestMatches(opts.match, w.record)) continue;
          w.end(opts.abrupt === true);
          n++;
        }
        return n;
      },
      failNext(n, status = 500, match) {
        failRules.push({ remaining: n, status, ...(match !== undefined ? { match } : {}) });
      },
      async refuse(on) {
        if (closing) return;
        if (on && !refusing) {
          refusing = true;
          await stopListening();
        } else if (!on && refusing) {
          await listen(port);
          refusing = false;
        }
      },
      delay(ms, match) {
        delayRule = ms > 0 ? { ms, ...(match !== undefined ? { match } : {}) } : undefined;
      },
      hold(match) {
        const h = { ...(match !== undefined ? { match } : {}), waiting: new Set<() => void>() };
        holds.add(h);
        return {
          held: () => h.waiting.size,
          release() {
            holds.delete(h);
            for (const resolve of h.waiting) resolve();
            h.waiting.clear();
          },
        };
      },
      expireResourceVersions() {
        store.compact();
      },
    },
    requests,
    forbidden,
    openWatches() {
      return [...watches].map((w) => w.info);
    },
    waitForWatch(match = {}, timeoutMs = 5000) {
      const ok = (w: OpenWatch): boolean => (match.resource === undefined || match.resource === w.info.resource)
        && (match.group === undefined || match.group === w.info.group)
        && (match.namespace === undefined || match.namespace === w.info.namespace);
      const open = [...watches].find(ok);
      if (open) return Promise.resolve(open.info);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          watchWaiters.delete(waiter);
          reject(new Error(`kube-api-emulator: no watch matching ${JSON.stringify(match)} opened within ${timeoutMs} ms`));
        }, timeoutMs);
        const waiter = (w: OpenWatch): void => {
          if (!ok(w)) return;
          clearTimeout(timer);
          watchWaiters.delete(waiter);
          resolve(w.info);
        };
        watchWaiters.add(waiter);
      });
    },
    close() {
      for (const h of holds) for (const resolve of h.waiting) resolve();
      holds.clear();
      closing ??= refusing ? Promise.resolve() : stopListening();
      refusing = true;
      return closing;
    },
  };
  return api;
}
