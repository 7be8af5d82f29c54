// The retries-and-timeouts family (ingress-nginx "Custom timeouts",
// https://kubernetes.github.io/ingress-nginx/user-guide/nginx-configuration/annotations/#custom-timeouts,
// its parser internal/ingress/annotations/proxy/main.go, and nginx's proxy_next_upstream*,
// proxy_*_timeout): how one request of the Ingress's paths is forwarded.
// - `proxy-connect-timeout`, `proxy-send-timeout`, `proxy-read-timeout`: whole seconds (ingress-nginx
//   reads them with strconv.Atoi; "5s" is refused there too), default 5, 60, 60.
// - `proxy-next-upstream`: the cases in which a request goes to another endpoint, separated by
//   spaces: `error`, `timeout`, `invalid_header`, `http_500|502|503|504|403|404|429`,
//   `non_idempotent`, or `off` alone; default `error timeout`.
// - `proxy-next-upstream-tries`: tries in all, the first included (default 3; 0: no limit, which
//   here is one try per endpoint); `proxy-next-upstream-timeout`: seconds after the first try
//   began within which another may start (default 0: no limit).
// The ConfigMap keys of the same names (and, for the timeouts, the --proxy-*-timeout flags under
// them) are the defaults of an Ingress that does not set the annotation, and the ConfigMap's
// `retry-non-idempotent: "true"` adds `non_idempotent` everywhere (ingress-nginx's
// buildNextUpstream). An Ingress that sets none of the annotations carries no policy: the table's
// (GlobalPolicy.forward) applies to it, computed here too.
// Also the ConfigMap's `upstream-keepalive-*` keys (ingress-nginx's upstream block), which shape
// the workers' connection pools (UpstreamKeepalivePolicy).
// ingress-nginx silently falls back to the default on a bad value; here it is refused with a
// condition. A timeout of 0 (which nginx would turn into an immediate timeout) is refused too.

import type { FamilyDefaults, ForwardPolicy, NextUpstreamCase, UpstreamKeepalivePolicy } from '../model.ts';
import type { KubeObject } from '../snapshot.ts';
import { readAnnotation, type AnnotationProblem, type AnnotationResult } from './read-annotation.ts';

/** ingress-nginx's defaults (internal/ingress/controller/config/config.go NewDefault). */
export const DEFAULT_FORWARD_POLICY: ForwardPolicy = Object.freeze({
  connectTimeoutMs: 5000,
  sendTimeoutMs: 60_000,
  readTimeoutMs: 60_000,
  nextUpstream: Object.freeze(['error', 'timeout'] as const),
  tries: 3,
  triesTimeoutMs: 0,
});

/** ingress-nginx's upstream-keepalive-connections, -timeout, -requests and -time defaults (config.go). */
export const DEFAULT_UPSTREAM_KEEPALIVE: UpstreamKeepalivePolicy = Object.freeze({ connections: 320, timeoutMs: 60_000, requests: 10_000, timeMs: 3_600_000 });

/** Every case, in the order policies list them. */
export const NEXT_UPSTREAM_CASES: readonly NextUpstreamCase[] = ['error', 'timeout', 'invalid_header', 'http_500', 'http_502', 'http_503', 'http_504', 'http_403', 'http_404', 'http_429', 'non_idempotent'];

/** The longest timeout in seconds: Node's timers hold at most 2³¹−1 ms. */
const MAX_SECONDS = 2_147_483;
const MAX_TRIES = 100;
const MAX_COUNT = 1_000_000_000;

function secondsExpected(min: number): string {
  return `a whole number of seconds ${min}-${MAX_SECONDS}${min === 0 ? ' (0: no limit)' : ''}`;
}

/** What each ConfigMap key of this family takes, for its conditions. */
export const EXPECTED = {
  seconds: secondsExpected(1),
  triesTimeout: secondsExpected(0),
  connections: `a whole number 0-${MAX_COUNT} (0: no keep-alive)`,
  requests: `a whole number 1-${MAX_COUNT}`,
  time: 'an nginx time such as "1h", "30m", "90s" or "3600" (seconds)',
  tries: `a whole number 0-${MAX_TRIES} (0: one try per endpoint)`,
  nextUpstream: `cases separated by spaces (${NEXT_UPSTREAM_CASES.join(', ')}), or off`,
} as const;

/**
 * proxy-next-upstream's cases in NEXT_UPSTREAM_CASES order (case-insensitive, as nginx reads them),
 * `off` as []; null when a word is not a case, or `off` comes with others.
 */
export function parseNextUpstream(text: string): readonly NextUpstreamCase[] | null {
  const words = text.trim().toLowerCase().split(/\s+/);
  if (words.length === 1 && words[0] === 'off') return [];
  if (!words.every((w) => (NEXT_UPSTREAM_CASES as readonly string[]).includes(w))) return null;
  return NEXT_UPSTREAM_CASES.filter((c) => words.includes(c));
}

/** Whole seconds `min`-MAX_SECONDS, in milliseconds; null otherwise. */
function parseSeconds(text: string, min: number): number | null {
  const t = text.trim();
  return /^\d{1,7}$/.test(t) && Number(t) >= min && Number(t) <= MAX_SECONDS ? Number(t) * 1000 : null;
}

/** A timeout (proxy-*-timeout): whole seconds, at least 1. */
export const parseTimeout = (text: string): number | null => parseSeconds(text, 1);
/** proxy-next-upstream-timeout: whole seconds, 0 for none. */
export const parseTriesTimeout = (text: string): number | null => parseSeconds(text, 0);

/** A whole number 0-max, or null. */
function parseCount(text: string, max: number): number | null {
  const t = text.trim();
  return /^\d{1,10}$/.test(t) && Number(t) <= max ? Number(t) : null;
}

export const parseTries = (text: string): number | null => parseCount(text, MAX_TRIES);

const NGINX_TIME_UNITS: Readonly<Record<string, number>> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** An nginx time (`1h`, `30m`, `90s`, `500ms`, `3600`: seconds) of at least 1 ms, in ms; null otherwise. */
export function parseNginxTime(text: string): number | null {
  const m = /^(\d{1,7})(ms|s|m|h|d)?$/.exec(text.trim());
  const ms = m === null ? 0 : Number(m[1]) * NGINX_TIME_UNITS[m[2] ?? 's']!;
  return ms >= 1 && ms <= MAX_SECONDS * 1000 ? ms : null;
}

/** The cases with the ConfigMap's retry-non-idempotent applied; no failure case at all: off. */
function withNonIdempotent(cases: readonly NextUpstreamCase[], retryNonIdempotent: boolean): readonly NextUpstreamCase[] {
  if (cases.every((c) => c === 'non_idempotent')) return [];
  return retryNonIdempotent && !cases.includes('non_idempotent') ? [...cases, 'non_idempotent'] : cases;
}

export type ForwardDefaults = Pick<FamilyDefaults, 'proxyConnectTimeoutMs' | 'proxySendTimeoutMs' | 'proxyReadTimeoutMs' | 'proxyNextUpstream' | 'proxyNextUpstreamTries' | 'proxyNextUpstreamTimeoutMs' | 'retryNonIdempotent'>;

/** The policy of routes without the annotations, from the global defaults (ConfigMap over flags over ingress-nginx's). */
export function tableForwardPolicy(d: ForwardDefaults): ForwardPolicy {
  const D = DEFAULT_FORWARD_POLICY;
  return {
    connectTimeoutMs: d.proxyConnectTimeoutMs ?? D.connectTimeoutMs,
    sendTimeoutMs: d.proxySendTimeoutMs ?? D.sendTimeoutMs,
    readTimeoutMs: d.proxyReadTimeoutMs ?? D.readTimeoutMs,
    nextUpstream: withNonIdempotent(d.proxyNextUpstream ?? D.nextUpstream, d.retryNonIdempotent ?? false),
    tries: d.proxyNextUpstreamTries ?? D.tries,
    triesTimeoutMs: d.proxyNextUpstreamTimeoutMs ?? D.triesTimeoutMs,
  };
}

/** Whether two policies say the same. */
export function sameForwardPolicy(a: ForwardPolicy, b: ForwardPolicy): boolean {
  return a.connectTimeoutMs === b.connectTimeoutMs && a.sendTimeoutMs === b.sendTimeoutMs && a.readTimeoutMs === b.readTimeoutMs &&
    a.tries === b.tries && a.triesTimeoutMs === b.triesTimeoutMs && a.nextUpstream.join(' ') === b.nextUpstream.join(' ');
}

/**
 * The Ingress's policy: its annotations over `defaults`; undefined when it sets none of them (the
 * table's policy applies).
 */
export function readForwardPolicy(ing: KubeObject, defaults: ForwardDefaults): AnnotationResult<ForwardPolicy | undefined> {
  const problems: AnnotationProblem[] = [];
  const merged: { -readonly [K in keyof ForwardDefaults]: ForwardDefaults[K] } = { ...defaults };
  let set = false;
  const read = <K extends keyof ForwardDefaults>(name: string, key: K, expected: string, parse: (text: string) => ForwardDefaults[K] | null): void => {
    const v = readAnnotation(ing.metadata, name);
    if (v === undefined) return;
    set = true;
    const value = parse(v.value);
    if (value === null) problems.push({ key: v.key, message: `${v.key}: ${JSON.stringify(v.value)} is not ${expected}` });
    else merged[key] = value;
  };
  read('proxy-connect-timeout', 'proxyConnectTimeoutMs', EXPECTED.seconds, parseTimeout);
  read('proxy-send-timeout', 'proxySendTimeoutMs', EXPECTED.seconds, parseTimeout);
  read('proxy-read-timeout', 'proxyReadTimeoutMs', EXPECTED.seconds, parseTimeout);
  read('proxy-next-upstream', 'proxyNextUpstream', EXPECTED.nextUpstream, parseNextUpstream);
  read('proxy-next-upstream-tries', 'proxyNextUpstreamTries', EXPECTED.tries, parseTries);
  read('proxy-next-upstream-timeout', 'proxyNextUpstreamTimeoutMs', EXPECTED.triesTimeout, parseTriesTimeout);
  if (problems.length > 0) return { ok: false, problems };
  return { ok: true, value: set ? tableForwardPolicy(merged) : undefined };
}

/** The ConfigMap's upstream-keepalive-* keys as read; absent ones take ingress-nginx's defaults. */
export interface KeepaliveSettings {
  readonly upstreamKeepaliveConnections?: number;
  readonly upstreamKeepaliveTimeoutMs?: number;
  readonly upstreamKeepaliveRequests?: number;
  readonly upstreamKeepaliveTimeMs?: number;
}

/** The pools' policy, or undefined when every key is at its default. */
export function upstreamKeepalive(s: KeepaliveSettings): UpstreamKeepalivePolicy | undefined {
  const D = DEFAULT_UPSTREAM_KEEPALIVE;
  const p: UpstreamKeepalivePolicy = {
    connections: s.upstreamKeepaliveConnections ?? D.connections,
    timeoutMs: s.upstreamKeepaliveTimeoutMs ?? D.timeoutMs,
    requests: s.upstreamKeepaliveRequests ?? D.requests,
    timeMs: s.upstreamKeepaliveTimeMs ?? D.timeMs,
  };
  return p.connections === D.connections && p.timeoutMs === D.timeoutMs && p.requests === D.requests && p.timeMs === D.timeMs ? undefined : p;
}

export const parseKeepaliveConnections = (text: string): number | null => parseCount(text, MAX_COUNT);
export const parseKeepaliveRequests = (text: string): number | null => (parseCount(text, MAX_COUNT) || null);
