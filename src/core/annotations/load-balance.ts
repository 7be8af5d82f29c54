// The load-balancing family: how a route's requests choose an endpoint of its backend
// (ingress-nginx "Custom NGINX load balancing", "Custom NGINX upstream hashing", "Session
// Affinity"; internal/ingress/annotations/{loadbalancing,upstreamhashby,sessionaffinity}/ and
// rootfs/etc/nginx/lua/balancer.lua, whose get_implementation fixes the precedence):
//   affinity: cookie (affinity.ts)  >  upstream-hash-by  >  load-balance  >  the ConfigMap's load-balance  >  round robin.
//
// `load-balance` takes ingress-nginx's values, mapped onto ours:
//   round_robin → round_robin; ewma → ewma (peak EWMA, power of two choices);
//   chash, chashsubset → accepted with upstream-hash-by, which decides (with -subset), as ingress-nginx;
//   sticky_balanced, sticky_persistent → accepted with affinity: cookie, whose affinity-mode decides;
// and `least_request` (ours: the fewer requests in flight of two endpoints chosen at random).
// ingress-nginx accepts chash and sticky_* alone, then fails at request time (no key, no cookie
// name); here they are refused without the annotation that gives them their meaning.
//
// `upstream-hash-by` is parsed into a list of parts once, here: literal text (letters, digits, `-`,
// `_`), and the nginx variables `$request_uri`, `$remote_addr`, `$host`, `$http_<name>`,
// `$cookie_<name>` and `$arg_<name>`, written `$name` (the longest run of letters, digits and `_`,
// as nginx reads it) or `${name}`. So `$host$request_uri` and `${arg_user}-x` work, and the value is
// never interpolated as text. Any other variable is refused, as is a key with no variable (every
// request would go to one endpoint).
//
// In ingress-nginx these are settings of the upstream (one per Service port), taken from the oldest
// Ingress that names it. Here they travel on each route, with the route's other policies: two
// Ingresses sending the same Service different settings each get theirs, with no winner or loser.
// ingress-nginx documents the same for affinity ("only paths on the Ingress using affinity use
// session cookie affinity"). Endpoint state (in flight, latency) is per endpoint and worker, shared
// by every route's balancer in that worker.

import type { BalanceAlgorithm, BalancePolicy, HashKeyPart } from '../model.ts';
import type { KubeObject } from '../snapshot.ts';
import { readAffinity, COOKIE_PATH } from './affinity.ts';
import { readAnnotation, readBool, type AnnotationProblem, type AnnotationResult } from './read-annotation.ts';
import { parseVariables, variableSet } from './nginx-variables.ts';

/** ingress-nginx's default upstream-hash-by-subset-size. */
const DEFAULT_SUBSET_SIZE = 3;
const MAX_SUBSET_SIZE = 1000;
const MAX_KEY_PARTS = 16;

/** load-balance values that name an algorithm of their own (the ConfigMap key takes only these). */
const ALGORITHMS: readonly BalanceAlgorithm[] = ['round_robin', 'ewma', 'least_request'];
const BY_HASH = ['chash', 'chashsubset'];
const BY_AFFINITY = ['sticky_balanced', 'sticky_persistent'];

/** A load-balance value (trimmed, case-sensitive, as ingress-nginx) that names an algorithm, else undefined. */
export function parseAlgorithm(value: string): BalanceAlgorithm | undefined {
  const t = value.trim();
  return (ALGORITHMS as readonly string[]).includes(t) ? (t as BalanceAlgorithm) : undefined;
}

/** The values parseAlgorithm takes, for messages. */
export const ALGORITHMS_EXPECTED = ALGORITHMS.map((a) => JSON.stringify(a)).join(', ');

/** The nginx variables upstream-hash-by may name. */
const HASH_VARIABLES = variableSet(['request_uri', 'remote_addr', 'host'], true, 'hashes by');

/** upstream-hash-by as parts; a string is why it is refused. */
export function parseHashBy(value: string): HashKeyPart[] | string {
  const parts = parseVariables(value.trim(), HASH_VARIABLES, /^[A-Za-z0-9_-]+/, 'a letter, digit, "-", "_"');
  if (typeof parts === 'string') return parts;
  if (!parts.some((p) => p.kind !== 'text')) return `it names no variable (${HASH_VARIABLES.expected}), so every request would go to one endpoint`;
  if (parts.length > MAX_KEY_PARTS) return `it has more than ${MAX_KEY_PARTS} parts`;
  return parts as HashKeyPart[];
}

/** The defaults the family reads: the ConfigMap's load-balance. */
export interface LoadBalanceDefaults {
  readonly loadBalance?: BalanceAlgorithm;
}

/** The Ingress's balance policy (an affinity cookie's path not yet fitted to a route); undefined: round robin. */
export function readLoadBalance(ing: KubeObject, defaults: LoadBalanceDefaults = {}): AnnotationResult<BalancePolicy | undefined> {
  const problems: AnnotationProblem[] = [];
  const get = (name: string) => readAnnotation(ing.metadata, name);
  const affinity = readAffinity(ing);
  if (!affinity.ok) problems.push(...affinity.problems);

  let key: HashKeyPart[] | undefined;
  const hashBy = get('upstream-hash-by');
  if (hashBy !== undefined) {
    const parsed = parseHashBy(hashBy.value);
    if (typeof parsed === 'string') problems.push({ key: hashBy.key, message: `${hashBy.key}: ${JSON.stringify(hashBy.value)} is not a hash key: ${parsed}` });
    else key = parsed;
  }
  const subset = readBool(ing.metadata, 'upstream-hash-by-subset', false, problems);
  let subsetSize = DEFAULT_SUBSET_SIZE;
  const sizeValue = get('upstream-hash-by-subset-size');
  if (sizeValue !== undefined) {
    const t = sizeValue.value.trim();
    // 0 is ingress-nginx's "unset": the default.
    if (/^\d{1,4}$/.test(t) && Number(t) <= MAX_SUBSET_SIZE) subsetSize = Number(t) === 0 ? DEFAULT_SUBSET_SIZE : Number(t);
    else problems.push({ key: sizeValue.key, message: `${sizeValue.key}: ${JSON.stringify(sizeValue.value)} is not a subset size (a whole number 1-${MAX_SUBSET_SIZE})` });
  }

  let algorithm = defaults.loadBalance ?? 'round_robin';
  const lb = get('load-balance');
  if (lb !== undefined) {
    const t = lb.value.trim();
    const named = parseAlgorithm(t);
    if (named !== undefined) algorithm = named;
    else if (BY_HASH.includes(t)) {
      if (hashBy === undefined) problems.push({ key: lb.key, message: `${lb.key}: ${JSON.stringify(lb.value)} hashes by the key upstream-hash-by names, and this Ingress sets none` });
    } else if (BY_AFFINITY.includes(t)) {
      if (affinity.ok && affinity.value === undefined) problems.push({ key: lb.key, message: `${lb.key}: ${JSON.stringify(lb.value)} is cookie affinity, and this Ingress does not set affinity: cookie` });
    } else {
      problems.push({ key: lb.key, message: `${lb.key}: ${JSON.stringify(lb.value)} is not a load-balancing algorithm (${ALGORITHMS_EXPECTED}; chash and chashsubset with upstream-hash-by, sticky_balanced and sticky_persistent with affinity: cookie)` });
    }
  }
  if (problems.length > 0) return { ok: false, problems };
  if (affinity.ok && affinity.value !== undefined) return { ok: true, value: affinity.value };
  if (key !== undefined) return { ok: true, value: { algorithm: 'hash', key, subset: subset ? subsetSize : 0 } };
  return { ok: true, value: algorithm === 'round_robin' ? undefined : { algorithm } };
}

/**
 * The policy for one route: an affinity cookie without session-cookie-path gets the route's path
 * as written (ingress-nginx's $location_path), or `/` for a regex path or one a cookie Path
 * cannot hold (ingress-nginx asks for session-cookie-path there). Other policies are unchanged.
 */
export function routeBalance(policy: BalancePolicy, written: string, regex: boolean): BalancePolicy {
  if (policy.algorithm !== 'cookie' || policy.cookie.path !== undefined) return policy;
  return { ...policy, cookie: { ...policy.cookie, path: !regex && COOKIE_PATH.test(written) ? written : '/' } };
}
