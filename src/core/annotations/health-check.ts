// Health checks, ours only (ingress-nginx has none: its endpoints leave the upstream only when
// Kubernetes marks them not ready, and a failing pod keeps its share until then).
//
// Active (control/health/): the main thread probes every endpoint of the backend, once per replica.
// - `gatehouse.io/health-check-path`: the path probed (an absolute path, query allowed); the checks
//   are off unless it is set.
// - `gatehouse.io/health-check-interval` (default 10s), `-timeout` (default 2s): durations
//   (`500ms`, `2s`, `1m`, or whole seconds); the timeout must be shorter than the interval (unset:
//   2s, or half the interval if that is shorter).
// - `gatehouse.io/health-check-healthy-threshold` (default 2), `-unhealthy-threshold` (default 3):
//   consecutive passing or failing probes that flip an endpoint's state, 1-100.
// - `gatehouse.io/health-check-status` (default `200-399`): the statuses that pass, `200` or
//   `200-299`. gRPC backends (GRPC, GRPCS) are asked `grpc.health.v1.Health/Check` instead, and
//   pass when it answers SERVING; the path and status are then not used (the path must still be set).
//
// Passive (dataplane/shared/ejection-table.ts), Envoy's outlier detection:
// - `gatehouse.io/passive-health-consecutive-failures`: failures in a row that eject an endpoint,
//   1-1000; passive health is off unless it is set.
// - `gatehouse.io/passive-health-failures` (default `error timeout http_5xx`): which outcomes count,
//   separated by spaces: `error` (refused, reset, closed without an answer), `timeout` (connect or
//   read), `http_5xx` (any 5xx answer) or single codes `http_500`, `http_502`, `http_503`, `http_504`.
// - `gatehouse.io/passive-health-base-ejection` (default 30s): the first ejection's length; the nth
//   (in a row) lasts n times as long, at most `-max-ejection` (default 300s).
// - `gatehouse.io/passive-health-max-ejection-percent` (default 50): no more than this share of the
//   backend's endpoints is ejected at once (one at least, as Envoy).
//
// A bad value leaves the Ingress out with a condition naming the annotation, as every family.

import type { ActiveHealthPolicy, BackendProtocol, HealthPolicy, PassiveHealthFailure, PassiveHealthPolicy } from '../model.ts';
import type { KubeObject } from '../snapshot.ts';
import type { AnnotationProblem, AnnotationResult } from './read-annotation.ts';

const PREFIX = 'gatehouse.io/';

export const DEFAULT_ACTIVE = { intervalMs: 10_000, timeoutMs: 2000, healthyThreshold: 2, unhealthyThreshold: 3, statusMin: 200, statusMax: 399 } as const;
export const DEFAULT_PASSIVE_FAILURES: readonly PassiveHealthFailure[] = ['error', 'timeout', 'http_5xx'];
export const DEFAULT_PASSIVE = { baseEjectionMs: 30_000, maxEjectionMs: 300_000, maxEjectionPercent: 50 } as const;

/** Every passive-health failure kind, in the order policies list them. */
export const PASSIVE_FAILURES: readonly PassiveHealthFailure[] = ['error', 'timeout', 'http_5xx', 'http_500', 'http_502', 'http_503', 'http_504'];

/** The longest interval or ejection: one hour (probes and ejections are about seconds and minutes). */
const MAX_DURATION_MS = 3_600_000;
const PATH = /^\/[\x21-\x7e]*$/;

/** A duration: `<n>ms`, `<n>s`, `<n>m` or whole seconds; milliseconds, or null. */
export function parseDuration(text: string): number | null {
  const m = /^(\d{1,7})(ms|s|m)?$/.exec(text.trim());
  if (m === null) return null;
  const n = Number(m[1]);
  const ms = m[2] === 'ms' ? n : m[2] === 'm' ? n * 60_000 : n * 1000;
  return ms >= 1 && ms <= MAX_DURATION_MS ? ms : null;
}

function own(ing: KubeObject, name: string): { key: string; value: string } | undefined {
  const key = PREFIX + name;
  const raw = ing.metadata.annotations?.[key];
  if (raw === undefined || raw === null) return undefined;
  return { key, value: typeof raw === 'string' ? raw : JSON.stringify(raw) };
}

/** Reads the annotation `name` with `parse`; absent: `fallback`; refused: a problem, and `fallback`. */
function field<T>(ing: KubeObject, name: string, fallback: T, parse: (text: string) => T | null, expected: string, problems: AnnotationProblem[]): T {
  const v = own(ing, name);
  if (v === undefined) return fallback;
  const parsed = parse(v.value);
  if (parsed !== null) return parsed;
  problems.push({ key: v.key, message: `${v.key}: ${JSON.stringify(v.value)} is not ${expected}` });
  return fallback;
}

const int = (min: number, max: number) => (t: string): number | null => (/^\d{1,7}$/.test(t.trim()) && Number(t) >= min && Number(t) <= max ? Number(t) : null);

function parseStatus(t: string): [number, number] | null {
  const m = /^([1-5]\d\d)(?:-([1-5]\d\d))?$/.exec(t.trim());
  if (m === null) return null;
  const lo = Number(m[1]);
  const hi = m[2] === undefined ? lo : Number(m[2]);
  return lo <= hi ? [lo, hi] : null;
}

function parseFailures(t: string): readonly PassiveHealthFailure[] | null {
  const words = t.trim().toLowerCase().split(/\s+/);
  if (!words.every((w) => (PASSIVE_FAILURES as readonly string[]).includes(w))) return null;
  return PASSIVE_FAILURES.filter((f) => words.includes(f));
}

function readActive(ing: KubeObject, protocol: BackendProtocol, problems: AnnotationProblem[]): ActiveHealthPolicy | undefined {
  const path = field<string | null>(ing, 'health-check-path', null, (t) => (PATH.test(t) && t.length <= 1024 ? t : null), 'an absolute path (printable ASCII, no spaces, at most 1024 characters)', problems);
  const dur = 'a duration such as "500ms", "2s", "1m" or "10" (seconds), at most 1h';
  const intervalMs = field(ing, 'health-check-interval', DEFAULT_ACTIVE.intervalMs, parseDuration, dur, problems);
  const timeoutMs = field(ing, 'health-check-timeout', DEFAULT_ACTIVE.timeoutMs, parseDuration, dur, problems);
  const healthyThreshold = field(ing, 'health-check-healthy-threshold', DEFAULT_ACTIVE.healthyThreshold, int(1, 100), 'a whole number 1-100', problems);
  const unhealthyThreshold = field(ing, 'health-check-unhealthy-threshold', DEFAULT_ACTIVE.unhealthyThreshold, int(1, 100), 'a whole number 1-100', problems);
  const [statusMin, statusMax] = field<[number, number]>(ing, 'health-check-status', [DEFAULT_ACTIVE.statusMin, DEFAULT_ACTIVE.statusMax], parseStatus, 'a status (100-599) or a range such as "200-399"', problems);
  if (path === null) {
    const stray = ['health-check-interval', 'health-check-timeout', 'health-check-healthy-threshold', 'health-check-unhealthy-threshold', 'health-check-status'].find((n) => own(ing, n) !== undefined);
    if (stray !== undefined) problems.push({ key: PREFIX + stray, message: `${PREFIX}${stray} is set without ${PREFIX}health-check-path, which turns the checks on` });
    return undefined;
  }
  if (timeoutMs >= intervalMs && own(ing, 'health-check-timeout') !== undefined) {
    problems.push({ key: `${PREFIX}health-check-timeout`, message: `${PREFIX}health-check-timeout (${timeoutMs} ms) must be shorter than the interval (${intervalMs} ms)` });
  }
  const timeout = own(ing, 'health-check-timeout') === undefined ? Math.min(timeoutMs, Math.max(1, Math.floor(intervalMs / 2))) : timeoutMs;
  return { path, protocol, intervalMs, timeoutMs: timeout, healthyThreshold, unhealthyThreshold, statusMin, statusMax };
}

function readPassive(ing: KubeObject, problems: AnnotationProblem[]): PassiveHealthPolicy | undefined {
  const consecutiveFailures = field<number | null>(ing, 'passive-health-consecutive-failures', null, int(1, 1000), 'a whole number 1-1000', problems);
  const dur = 'a duration such as "500ms", "30s", "5m" or "30" (seconds), at most 1h';
  const failures = field(ing, 'passive-health-failures', DEFAULT_PASSIVE_FAILURES, parseFailures, `failure kinds separated by spaces (${PASSIVE_FAILURES.join(', ')})`, problems);
  const baseEjectionMs = field(ing, 'passive-health-base-ejection', DEFAULT_PASSIVE.baseEjectionMs, parseDuration, dur, problems);
  const maxEjectionMs = field(ing, 'passive-health-max-ejection', Math.max(DEFAULT_PASSIVE.maxEjectionMs, baseEjectionMs), parseDuration, dur, problems);
  const maxEjectionPercent = field(ing, 'passive-health-max-ejection-percent', DEFAULT_PASSIVE.maxEjectionPercent, int(0, 100), 'a whole number 0-100', problems);
  if (consecutiveFailures === null) {
    const stray = ['passive-health-failures', 'passive-health-base-ejection', 'passive-health-max-ejection', 'passive-health-max-ejection-percent'].find((n) => own(ing, n) !== undefined);
    if (stray !== undefined) problems.push({ key: PREFIX + stray, message: `${PREFIX}${stray} is set without ${PREFIX}passive-health-consecutive-failures, which turns passive health on` });
    return undefined;
  }
  if (maxEjectionMs < baseEjectionMs) problems.push({ key: `${PREFIX}passive-health-max-ejection`, message: `${PREFIX}passive-health-max-ejection (${maxEjectionMs} ms) is shorter than the base ejection (${baseEjectionMs} ms)` });
  return { consecutiveFailures, failures, baseEjectionMs, maxEjectionMs, maxEjectionPercent };
}

/** The Ingress's health policy for its backends (`protocol`: its backend-protocol); absent when it sets none. */
export function readHealthCheck(ing: KubeObject, protocol: BackendProtocol): AnnotationResult<HealthPolicy | undefined> {
  const problems: AnnotationProblem[] = [];
  const active = readActive(ing, protocol, problems);
  const passive = readPassive(ing, problems);
  if (problems.length > 0) return { ok: false, problems };
  if (active === undefined && passive === undefined) return { ok: true, value: undefined };
  return { ok: true, value: { ...(active ? { active } : {}), ...(passive ? { passive } : {}) } };
}
