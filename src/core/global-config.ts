// ingress-nginx's ConfigMap of global settings (`--configmap NS/NAME`, its flag name; in local
// mode a ConfigMap object in the manifests directory), read at the start of every compile, so a
// change to it applies like any other object's. Keys and defaults are ingress-nginx's
// (docs/user-guide/nginx-configuration/configmap.md, internal/ingress/controller/config):
// - real client IPs: use-proxy-protocol (+ proxy-protocol-header-timeout), use-forwarded-headers,
//   enable-real-ip, forwarded-for-header, compute-full-forwarded-for, proxy-real-ip-cidr;
// - headers: add-headers (response) and proxy-set-headers (request), each naming another
//   ConfigMap `namespace/name` whose data are the headers;
// - the global defaults of the annotation families (into CompileOptions, which the families read):
//   proxy-body-size, limit-req-status-code, limit-conn-status-code, limit-rate, limit-rate-after,
//   whitelist-source-range, denylist-source-range, global-allowed-response-headers (the
//   header names a custom-headers annotation may set), load-balance, proxy-*-timeout,
//   proxy-next-upstream*, retry-non-idempotent (annotations/forward-policy.ts), custom-http-errors,
//   service-upstream;
// - the workers' upstream connections: upstream-keepalive-connections, -timeout, -requests, -time;
// - generate-request-id (X-Request-ID made for requests without one; default true).
// A value its grammar refuses is a condition naming the key (where ingress-nginx logs a warning
// and silently keeps the default), and that key keeps its default; the rest applies. Keys we do
// not read are one condition listing them: a misspelt key must not pass unnoticed.

import { parseSize } from './annotations/body-size.ts';
import { MAX_KILOBYTES } from './annotations/rate-limit.ts';
import { parseBool } from './annotations/read-annotation.ts';
import { ALGORITHMS_EXPECTED, parseAlgorithm } from './annotations/load-balance.ts';
import { headerRefusal } from './annotations/typed-headers.ts';
import * as forward from './annotations/forward-policy.ts';
import { parseStatusList } from './annotations/error-pages.ts';
import { formatCidr, parseCidrList } from './cidr.ts';
import type { BalanceAlgorithm, CompileOptions, Condition, FamilyDefaults, GlobalPolicy, ObjectRef, RealIpPolicy } from './model.ts';
import type { Snapshot } from './snapshot.ts';

/** The ConfigMap's keys, typed; a key absent (or refused) is absent here. */
export interface ConfigMapSettings extends FamilyDefaults, forward.KeepaliveSettings {
  readonly useProxyProtocol?: boolean;
  readonly proxyProtocolHeaderTimeoutMs?: number;
  readonly useForwardedHeaders?: boolean;
  readonly enableRealIp?: boolean;
  /** Lower case. */
  readonly forwardedForHeader?: string;
  readonly computeFullForwardedFor?: boolean;
  /** Normalised ranges; empty: no peer is trusted. */
  readonly proxyRealIpCidr?: readonly string[];
  /** `namespace/name` of the ConfigMaps of headers. */
  readonly addHeaders?: string;
  readonly proxySetHeaders?: string;
  readonly generateRequestId?: boolean;
}

/** A value refused: the key (ConfigMap data key, or header name) and why. */
export interface KeyProblem {
  readonly key: string;
  readonly message: string;
}

/** ingress-nginx's default for proxy-real-ip-cidr (config.go NewDefault: IPv4 only). */
export const DEFAULT_REAL_IP_CIDR = '0.0.0.0/0';
/** ingress-nginx's proxy-protocol-header-timeout default. */
export const DEFAULT_PROXY_PROTOCOL_TIMEOUT_MS = 5000;

// RFC 9110 §5.6.2 token.
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]{1,256}$/;
const NSNAME = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?\/[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;
// Printable ASCII and tabs, as the typed-headers annotations take: no CR, LF, NUL or other controls.
const FIELD_VALUE = /^[\t\x20-\x7e]*$/;
// An nginx variable ($remote_addr, ${msec}): ingress-nginx expands them in these headers; Gatehouse does not.
const NGINX_VARIABLE = /\$[A-Za-z_{]/;
const MAX_VALUE = 4096;

/** A value as it goes into a message: quoted and escaped, long ones cut. */
function quote(value: string): string {
  return JSON.stringify(value.length > 100 ? `${value.slice(0, 100)}…` : value);
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** A data value as text; one that is not a string (hand-written manifests) reads as its JSON, as annotations do. */
function text(v: unknown): string {
  return typeof v === 'string' ? v : JSON.stringify(v) ?? '';
}

const CIDR_LIST = 'a comma-separated list of IP addresses and CIDR ranges';

/** Addresses and CIDR ranges, normalised and deduplicated, empty entries skipped; undefined when one does not parse. */
function cidrList(v: string): readonly string[] | undefined {
  const list = parseCidrList(v.split(',').filter((e) => e.trim() !== '').join(','));
  return typeof list === 'string' ? undefined : [...new Set(list.map(formatCidr))];
}

/** Reads the keys of one ConfigMap's data; every key read is remembered, the others are unsupported. */
class KeyReader {
  readonly problems: KeyProblem[] = [];
  private readonly read = new Set<string>();
  private readonly data: Record<string, unknown>;
  constructor(data: Record<string, unknown>) {
    this.data = data;
  }

  /**
   * The key's grammar applied: undefined when absent (or empty) or refused (with a problem); a
   * refused value is `refused.value` instead when given, and the problem says what that does.
   */
  private take<T>(key: string, expected: string, fallback: string, parse: (v: string) => T | undefined, empty: T | undefined = undefined, refused?: { value: T; effect: string }): T | undefined {
    this.read.add(key);
    if (!Object.hasOwn(this.data, key)) return undefined;
    const v = text(this.data[key]).trim();
    if (v === '') return empty;
    const out = parse(v);
    if (out !== undefined) return out;
    this.problems.push({ key, message: `${quote(v)} is not ${expected}; ${refused?.effect ?? `the default ${fallback} applies`}` });
    return refused?.value;
  }

  /** Go's strconv.ParseBool, as ingress-nginx's ConfigMap decoding (mapstructure, weakly typed) and annotations read it. */
  bool(key: string, fallback: string): boolean | undefined {
    return this.take(key, 'a boolean ("true" or "false")', fallback, (value) => {
      const b = parseBool({ key, value });
      return typeof b === 'boolean' ? b : undefined;
    });
  }

  /** A Go duration in ms, s or m (`5s`, `500ms`), above 0 and at most an hour, in milliseconds. */
  duration(key: string, fallback: string): number | undefined {
    return this.take(key, 'a duration above 0 and at most 1h, such as "5s" or "500ms"', fallback, (v) => {
      const m = /^(\d{1,7}(?:\.\d{1,3})?)(ms|s|m)$/.exec(v);
      const ms = m === null ? NaN : Math.round(Number(m[1]) * (m[2] === 'ms' ? 1 : m[2] === 's' ? 1000 : 60_000));
      return ms >= 1 && ms <= 3_600_000 ? ms : undefined;
    });
  }

  /** A header name (RFC 9110 token), lower case. */
  headerName(key: string, fallback: string): string | undefined {
    return this.take(key, 'a header name (RFC 9110 token)', fallback, (v) => (TOKEN.test(v) ? v.toLowerCase() : undefined));
  }

  /** Comma-separated addresses and CIDR ranges, normalised; empty entries skipped (an empty list trusts nothing). */
  cidrs(key: string, fallback: string): readonly string[] | undefined {
    return this.take(key, CIDR_LIST, fallback, (v) => (v.replaceAll(',', '').trim() === '' ? [] : cidrList(v)), []);
  }

  /**
   * A global access list, as cidrs; empty: none. A list refused fails closed, as `closed` (the
   * operator meant to shut clients out: a typo must not let them in).
   */
  accessList(key: string, closed: readonly string[], effect: string): readonly string[] | undefined {
    const list = this.take<readonly string[] | null>(key, CIDR_LIST, 'none', (v) => (v.replaceAll(',', '').trim() === '' ? null : cidrList(v)), null, { value: closed, effect });
    return list ?? undefined;
  }

  /** Comma-separated header names (RFC 9110 tokens), lower case; empty entries skipped. */
  headerNames(key: string): readonly string[] | undefined {
    return this.take(key, 'a comma-separated list of header names (RFC 9110 tokens)', 'none', (v) => {
      const names = v.split(',').map((e) => e.trim()).filter((e) => e !== '');
      return names.every((n) => TOKEN.test(n)) ? [...new Set(names.map((n) => n.toLowerCase()))] : undefined;
    });
  }

  /** A whole number 0-max. */
  count(key: string, max: number, fallback: string): number | undefined {
    return this.take(key, `a whole number 0-${max}`, fallback, (v) => (/^\d{1,10}$/.test(v) && Number(v) <= max ? Number(v) : undefined));
  }

  /** nginx's size syntax (client_max_body_size), as the proxy-body-size annotation reads it. */
  size(key: string, fallback: string): number | undefined {
    return this.take(key, 'a size (digits, optionally followed by k, m or g; 0: unlimited)', fallback, (v) => parseSize(v) ?? undefined);
  }

  /** A status code 400-599 (nginx's limit_req_status / limit_conn_status range). */
  status(key: string, fallback: string): number | undefined {
    return this.take(key, 'an HTTP status code 400-599', fallback, (v) => (/^[45]\d\d$/.test(v) ? Number(v) : undefined));
  }

  /** load-balance: an algorithm of its own (chash and sticky_* need an Ingress's upstream-hash-by or affinity). */
  loadBalance(key: string): BalanceAlgorithm | undefined {
    return this.take(key, `a load-balancing algorithm (${ALGORITHMS_EXPECTED})`, 'round_robin', parseAlgorithm);
  }

  /** `namespace/name` of another ConfigMap. */
  configMapRef(key: string): string | undefined {
    return this.take(key, 'a ConfigMap as namespace/name', 'none', (v) => (NSNAME.test(v) ? v : undefined));
  }

  /** A key read with its family's parser (null: refused). */
  value<T>(key: string, expected: string, fallback: string, parse: (v: string) => T | null): T | undefined {
    return this.take(key, expected, fallback, (v) => parse(v) ?? undefined);
  }

  /** A key ingress-nginx has that Gatehouse accepts and does not need. */
  ignore(key: string): void {
    this.read.add(key);
  }

  unsupported(): string[] {
    return Object.keys(this.data).filter((k) => !this.read.has(k)).sort();
  }
}

/** The settings of one ConfigMap's `data`, the values refused, and the keys not read. Never throws. */
export function parseConfigMapData(data: unknown): { settings: ConfigMapSettings; problems: KeyProblem[]; unsupported: string[] } {
  if (data !== undefined && data !== null && !isRecord(data)) return { settings: {}, problems: [{ key: '', message: 'data is not a mapping; the defaults apply' }], unsupported: [] };
  const r = new KeyReader(isRecord(data) ? data : {});
  const settings: ConfigMapSettings = {
    useProxyProtocol: r.bool('use-proxy-protocol', 'false (or --use-proxy-protocol)'),
    proxyProtocolHeaderTimeoutMs: r.duration('proxy-protocol-header-timeout', '5s'),
    useForwardedHeaders: r.bool('use-forwarded-headers', 'false'),
    enableRealIp: r.bool('enable-real-ip', 'false'),
    forwardedForHeader: r.headerName('forwarded-for-header', 'X-Forwarded-For'),
    computeFullForwardedFor: r.bool('compute-full-forwarded-for', 'false'),
    proxyRealIpCidr: r.cidrs('proxy-real-ip-cidr', DEFAULT_REAL_IP_CIDR),
    proxyBodySize: r.size('proxy-body-size', '1m'),
    limitReqStatusCode: r.status('limit-req-status-code', '503 (or --limit-req-status-code)'),
    limitConnStatusCode: r.status('limit-conn-status-code', '503 (or --limit-conn-status-code)'),
    addHeaders: r.configMapRef('add-headers'),
    proxySetHeaders: r.configMapRef('proxy-set-headers'),
    allowedResponseHeaders: r.headerNames('global-allowed-response-headers'),
    whitelistSourceRange: r.accessList('whitelist-source-range', [], 'every client is refused (403) on routes without an allow list of their own until it is fixed'),
    denylistSourceRange: r.accessList('denylist-source-range', ['0.0.0.0/0', '::/0'], 'every client is refused (403) on routes without a deny list of their own until it is fixed'),
    limitRate: r.count('limit-rate', MAX_KILOBYTES, '0 (none)'),
    limitRateAfter: r.count('limit-rate-after', MAX_KILOBYTES, '0'),
    loadBalance: r.loadBalance('load-balance'),
    proxyConnectTimeoutMs: r.value('proxy-connect-timeout', forward.EXPECTED.seconds, '5 (or --proxy-connect-timeout)', forward.parseTimeout),
    proxySendTimeoutMs: r.value('proxy-send-timeout', forward.EXPECTED.seconds, '60 (or --proxy-send-timeout)', forward.parseTimeout),
    proxyReadTimeoutMs: r.value('proxy-read-timeout', forward.EXPECTED.seconds, '60 (or --proxy-read-timeout)', forward.parseTimeout),
    proxyNextUpstream: r.value('proxy-next-upstream', forward.EXPECTED.nextUpstream, '"error timeout"', forward.parseNextUpstream),
    proxyNextUpstreamTries: r.value('proxy-next-upstream-tries', forward.EXPECTED.tries, '3', forward.parseTries),
    proxyNextUpstreamTimeoutMs: r.value('proxy-next-upstream-timeout', forward.EXPECTED.triesTimeout, '0', forward.parseTriesTimeout),
    retryNonIdempotent: r.bool('retry-non-idempotent', 'false'),
    // annotations/error-pages.ts, service-upstream.ts: 300-599, as ingress-nginx's filterErrors.
    customHttpErrors: r.value('custom-http-errors', 'a comma-separated list of HTTP status codes 300-599', 'none', (v) => parseStatusList(v, 300)),
    serviceUpstream: r.bool('service-upstream', 'false'),
    upstreamKeepaliveConnections: r.value('upstream-keepalive-connections', forward.EXPECTED.connections, '320', forward.parseKeepaliveConnections),
    upstreamKeepaliveTimeoutMs: r.value('upstream-keepalive-timeout', forward.EXPECTED.seconds, '60', forward.parseTimeout),
    upstreamKeepaliveRequests: r.value('upstream-keepalive-requests', forward.EXPECTED.requests, '10000', forward.parseKeepaliveRequests),
    upstreamKeepaliveTimeMs: r.value('upstream-keepalive-time', forward.EXPECTED.time, '1h', forward.parseNginxTime),
    generateRequestId: r.bool('generate-request-id', 'true'),
  };
  // ingress-nginx's intermediate header for use-proxy-protocol with use-forwarded-headers; the
  // chain is walked here without one.
  r.ignore('forwarded-for-proxy-protocol-header');
  const defined = Object.fromEntries(Object.entries(settings).filter(([, v]) => v !== undefined)) as ConfigMapSettings;
  return { settings: defined, problems: r.problems, unsupported: r.unsupported() };
}

/** Why one entry of a header ConfigMap is refused, or null. */
function entryRefusal(name: string, value: string, request: boolean, literal: boolean, taken: ReadonlyMap<string, string>): string | null {
  if (!TOKEN.test(name)) return 'is not a header name (RFC 9110 token)';
  const lower = name.toLowerCase();
  // Hop-by-hop and framing headers; on requests also Host and the forwarding headers, which the client-IP keys compute.
  const refused = headerRefusal(lower, request);
  if (refused !== null) return refused;
  if (taken.has(lower)) return 'is set twice (header names are case-insensitive)';
  if (!FIELD_VALUE.test(value) || value.length > MAX_VALUE) return `has a value that is not printable ASCII and tabs of at most ${MAX_VALUE} characters`;
  if (!literal && NGINX_VARIABLE.test(value)) return `has a value with an nginx variable (${quote(value)}), which Gatehouse does not expand`;
  if (value === '' && !request) return 'has an empty value (clearing a response header is not supported)';
  return null;
}

/**
 * The headers of an add-headers (`response`) or proxy-set-headers (`request`) ConfigMap, or of a
 * custom-headers one (`response`, `literal`: a `$` is itself, as ingress-nginx escapes it there
 * and expands nginx variables in the others): its data, name → value, as a flat
 * [name, value, …] list sorted by name, names lower case. A request header with an empty value
 * is removed from the upstream request (nginx's `proxy_set_header X ""`). Entries refused are
 * problems (`header "<name>" <why>`); the others are returned. Never throws.
 */
export function parseHeaderData(data: unknown, direction: 'request' | 'response', literal = false): { headers: string[]; problems: KeyProblem[] } {
  const problems: KeyProblem[] = [];
  if (!isRecord(data)) {
    if (data !== undefined && data !== null) problems.push({ key: '', message: 'data is not a mapping; no headers are set' });
    return { headers: [], problems };
  }
  const byName = new Map<string, string>();
  for (const name of Object.keys(data).sort()) {
    const value = text(data[name]).trim();
    const reason = entryRefusal(name, value, direction === 'request', literal, byName);
    if (reason !== null) problems.push({ key: name, message: `header ${quote(name)} ${reason}` });
    else byName.set(name.toLowerCase(), value);
  }
  return { headers: [...byName].flat(), problems };
}

/** What compile takes from the ConfigMap. */
export interface GlobalConfig {
  /** The compile options with the ConfigMap's family defaults in (proxyBodySize, limit*, *SourceRange, allowedResponseHeaders). */
  readonly options: CompileOptions;
  /** What the workers apply to every request (RouteTable.global); undefined: nothing. */
  readonly policy: GlobalPolicy | undefined;
  /** `namespace/name` of the header ConfigMaps its keys name, sorted (Kubernetes mode watches them by name). */
  readonly configMaps: readonly string[];
}

function configMapRef(ref: string): ObjectRef {
  const [namespace = '', name = ''] = ref.split('/');
  return { kind: 'ConfigMap', namespace, name };
}

function field(key: string): string {
  return key === '' ? 'data' : `data[${JSON.stringify(key)}]`;
}

/** The keys whose settings are family defaults, named alike in ConfigMapSettings and CompileOptions. */
const FAMILY_DEFAULTS = ['proxyBodySize', 'limitReqStatusCode', 'limitConnStatusCode', 'limitRate', 'limitRateAfter', 'whitelistSourceRange', 'denylistSourceRange', 'allowedResponseHeaders', 'loadBalance',
  'proxyConnectTimeoutMs', 'proxySendTimeoutMs', 'proxyReadTimeoutMs', 'proxyNextUpstream', 'proxyNextUpstreamTries', 'proxyNextUpstreamTimeoutMs', 'retryNonIdempotent', 'customHttpErrors', 'serviceUpstream'] as const satisfies readonly (keyof FamilyDefaults)[];

/**
 * The --configmap ConfigMap (options.configMap) and the header ConfigMaps it names, read from the
 * snapshot; their problems pushed onto `conditions`.
 */
export function readGlobalConfig(snapshot: Pick<Snapshot, 'get'>, options: CompileOptions, conditions: Condition[]): GlobalConfig {
  let settings: ConfigMapSettings = {};
  const configMaps: string[] = [];
  const policy: { -readonly [K in keyof GlobalPolicy]: GlobalPolicy[K] } = {};
  const main = options.configMap ?? null;
  if (main !== null) {
    const ref = configMapRef(main);
    const cm = snapshot.get('ConfigMap', ref.namespace, ref.name);
    if (cm === undefined) {
      conditions.push({ ref, code: 'GH_CONFIGMAP_NOT_FOUND', field: '', message: `ConfigMap ${main} (--configmap) does not exist; the defaults apply until it does` });
    } else {
      const parsed = parseConfigMapData(cm.data);
      settings = parsed.settings;
      for (const p of parsed.problems) conditions.push({ ref, code: 'GH_CONFIGMAP_KEY_INVALID', field: field(p.key), message: p.message });
      if (parsed.unsupported.length > 0) {
        const shown = parsed.unsupported.slice(0, 20).map((k) => JSON.stringify(k)).join(', ');
        const more = parsed.unsupported.length > 20 ? ` and ${parsed.unsupported.length - 20} more` : '';
        conditions.push({ ref, code: 'GH_CONFIGMAP_KEY_UNSUPPORTED', field: 'data', message: `Gatehouse does not read ${shown}${more}; they have no effect` });
      }
      // add-headers and proxy-set-headers: the headers are the data of the ConfigMaps they name.
      for (const [key, named, direction] of [['add-headers', settings.addHeaders, 'response'], ['proxy-set-headers', settings.proxySetHeaders, 'request']] as const) {
        if (named === undefined) continue;
        configMaps.push(named);
        const headersRef = configMapRef(named);
        const headersCm = snapshot.get('ConfigMap', headersRef.namespace, headersRef.name);
        if (headersCm === undefined) {
          conditions.push({ ref, code: 'GH_CONFIGMAP_NOT_FOUND', field: field(key), message: `names ConfigMap ${named}, which does not exist; no headers are set until it does` });
          continue;
        }
        const { headers, problems } = parseHeaderData(headersCm.data, direction);
        for (const p of problems) conditions.push({ ref: headersRef, code: 'GH_CONFIGMAP_KEY_INVALID', field: field(p.key), message: `${p.message}; it is left out (${key} of ConfigMap ${main})` });
        if (headers.length > 0) policy[direction === 'request' ? 'requestHeaders' : 'responseHeaders'] = headers;
      }
    }
  }

  // ingress-nginx's nginx.tmpl: the real_ip module is on with use-forwarded-headers,
  // use-proxy-protocol or enable-real-ip; its header is the PROXY protocol's alone with
  // use-proxy-protocol (and not use-forwarded-headers), else forwarded-for-header.
  const proxyProtocol = settings.useProxyProtocol ?? options.useProxyProtocol ?? false;
  const forwardedHeaders = settings.useForwardedHeaders ?? false;
  const enableRealIp = settings.enableRealIp ?? false;
  if (proxyProtocol) policy.proxyProtocol = { headerTimeoutMs: settings.proxyProtocolHeaderTimeoutMs ?? DEFAULT_PROXY_PROTOCOL_TIMEOUT_MS };
  if (proxyProtocol || forwardedHeaders || enableRealIp) {
    const realIp: RealIpPolicy = {
      trusted: settings.proxyRealIpCidr ?? [DEFAULT_REAL_IP_CIDR],
      header: forwardedHeaders || (enableRealIp && !proxyProtocol) ? (settings.forwardedForHeader ?? 'x-forwarded-for') : null,
      forwardedHeaders,
      fullForwardedFor: forwardedHeaders && (settings.computeFullForwardedFor ?? false),
    };
    policy.realIp = realIp;
  }

  const defaults = Object.fromEntries(FAMILY_DEFAULTS.filter((k) => settings[k] !== undefined).map((k) => [k, settings[k]])) as Partial<CompileOptions>;
  const merged = { ...options, ...defaults };
  // Timeouts and retries of the routes whose Ingress sets none, carried when not ingress-nginx's defaults.
  const forwardPolicy = forward.tableForwardPolicy(merged);
  if (!forward.sameForwardPolicy(forwardPolicy, forward.DEFAULT_FORWARD_POLICY)) policy.forward = forwardPolicy;
  const keepalive = forward.upstreamKeepalive(settings);
  if (keepalive !== undefined) policy.upstreamKeepalive = keepalive;
  if (settings.generateRequestId === false) policy.generateRequestId = false;
  if (settings.customHttpErrors !== undefined) policy.customHttpErrors = settings.customHttpErrors;
  return {
    options: merged,
    policy: Object.keys(policy).length === 0 ? undefined : policy,
    configMaps: Object.freeze([...new Set(configMaps)].sort()),
  };
}
