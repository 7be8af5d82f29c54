// The rate-limit family (ingress-nginx "Rate Limiting",
// https://kubernetes.github.io/ingress-nginx/user-guide/nginx-configuration/annotations/#rate-limiting,
// and its parser internal/ingress/annotations/ratelimit/main.go):
// - `limit-rps` / `limit-rpm`: requests per second / minute from one client IP, each with a burst
//   of the limit × `limit-burst-multiplier` (default 5), as nginx's `limit_req burst=… nodelay`:
//   requests within the burst pass at once, the rest are refused. Both may be set: both apply.
// - `limit-connections`: requests of one client IP in progress at once.
// - `limit-whitelist` (alias of `limit-allowlist`; the latter wins): comma-separated addresses and
//   CIDRs whose clients none of the three limits apply to.
// - `limit-rate` / `limit-rate-after`: response bandwidth per request, in kilobytes (1024 bytes)
//   per second after the first that many kilobytes: ingress-nginx writes them as nginx's
//   `limit_rate <n>k` / `limit_rate_after <n>k`. They apply to whitelisted clients too. The
//   ConfigMap keys of the same names are their defaults.
// The limits are one zone per Ingress: every path of the Ingress shares a client's counters.
// A count of 0 is "no such limit", as in ingress-nginx. A value that is not a whole number in
// range is refused with a condition (ingress-nginx falls back to the default for some of them).

import type { RateLimitPolicy } from '../model.ts';
import type { KubeObject } from '../snapshot.ts';
import { parseCidrList } from '../cidr.ts';
import { readAnnotation, type AnnotationProblem, type AnnotationResult } from './read-annotation.ts';

/** ingress-nginx's defBurst. */
export const DEFAULT_BURST_MULTIPLIER = 5;
/** limit-req-status-code and limit-conn-status-code when the ConfigMap sets none (ingress-nginx config.go). */
export const DEFAULT_LIMIT_STATUS = 503;

/** The largest request and connection count, and kilobytes, a limit takes. */
const MAX_COUNT = 1_000_000;
const MAX_MULTIPLIER = 1000;
export const MAX_KILOBYTES = 1_000_000_000;

export interface RateLimitDefaults {
  /** limit-req-status-code / limit-conn-status-code. */
  readonly reqStatus: number;
  readonly connStatus: number;
  /** ConfigMap limit-rate / limit-rate-after, kilobytes; absent: 0. */
  readonly rate?: number;
  readonly rateAfter?: number;
}

/** The Ingress's limits, or undefined when it sets none that has an effect. */
export function readRateLimit(ing: KubeObject, defaults: RateLimitDefaults): AnnotationResult<RateLimitPolicy | undefined> {
  const problems: AnnotationProblem[] = [];
  const count = (name: string, fallback: number, max: number): number => {
    const v = readAnnotation(ing.metadata, name);
    if (v === undefined) return fallback;
    const n = /^\d{1,10}$/.test(v.value) ? Number(v.value) : NaN;
    if (n <= max) return n;
    problems.push({ key: v.key, message: `${v.key}: ${JSON.stringify(v.value)} is not a whole number 0-${max}` });
    return fallback;
  };
  const rps = count('limit-rps', 0, MAX_COUNT);
  const rpm = count('limit-rpm', 0, MAX_COUNT);
  const connections = count('limit-connections', 0, MAX_COUNT);
  const burstMultiplier = count('limit-burst-multiplier', DEFAULT_BURST_MULTIPLIER, MAX_MULTIPLIER);
  const rate = count('limit-rate', defaults.rate ?? 0, MAX_KILOBYTES);
  const rateAfter = count('limit-rate-after', defaults.rateAfter ?? 0, MAX_KILOBYTES);

  let whitelist: readonly string[] = [];
  const list = readAnnotation(ing.metadata, 'limit-allowlist') ?? readAnnotation(ing.metadata, 'limit-whitelist');
  if (list !== undefined && list.value.trim() !== '') {
    const parsed = parseCidrList(list.value);
    if (typeof parsed === 'string') problems.push({ key: list.key, message: `${list.key}: ${parsed} (expected comma-separated IP addresses and CIDR ranges)` });
    else whitelist = list.value.split(',').map((e) => e.trim());
  }

  if (problems.length > 0) return { ok: false, problems };
  if (rps === 0 && rpm === 0 && connections === 0 && rate === 0) return { ok: true, value: undefined };
  return {
    ok: true,
    value: {
      zone: `${ing.metadata.namespace}/${ing.metadata.name}`,
      rps,
      rpm,
      burstMultiplier,
      connections,
      // ingress-nginx lists the whitelist only with a limit it applies to.
      whitelist: rps === 0 && rpm === 0 && connections === 0 ? [] : whitelist,
      rate: rate * 1024,
      rateAfter: rate === 0 ? 0 : rateAfter * 1024,
      reqStatus: defaults.reqStatus,
      connStatus: defaults.connStatus,
    },
  };
}
