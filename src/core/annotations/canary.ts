// The canary family (ingress-nginx "Canary", internal/ingress/annotations/canary/main.go and
// rootfs/etc/nginx/lua/balancer.lua route_to_alternative_balancer):
// - `canary: "true"` makes the Ingress a canary: its paths are not routes of their own; each
//   attaches to the main Ingress's route with the same host, path and pathType (compile.ts), and
//   its requests go to the canary's backend when the rules below say so.
// - `canary-by-header`: a request header. Its value `always` sends the request to the canary,
//   `never` keeps it on the main backend; with `canary-by-header-value` the value must equal that
//   (case-sensitive), with `canary-by-header-pattern` the RE2 regex must match somewhere in it (the
//   value wins when both are set, as documented). Any other value: the next rule decides.
// - `canary-by-cookie`: a cookie whose value `always` / `never` decides; else the next rule.
// - `canary-weight` out of `canary-weight-total` (default 100): that share of the remaining
//   requests, drawn at random per request.
// Precedence: header, then cookie, then weight.
//
// Refused where ingress-nginx silently differs from what the value says: a non-integer or negative
// weight, a weight above the total (balancer.lua sends everything then), and a total below 100
// (balancer.lua reads any total up to 100 as 100). canary-* set without `canary: "true"` is what
// ingress-nginx calls "configured but not enabled": the Ingress is served as a normal one and the
// canary-* annotations do nothing (compile says so with GH_CANARY_DISABLED).
//
// Header and cookie names: RFC 9110 tokens within ingress-nginx's BasicChars (letters, digits,
// `-._~`); a header name is matched ignoring case, `_` as `-` (nginx's $http_<name>). A header
// value: BasicChars (`-._~/:` letters, digits) and inner spaces. The pattern runs on RE2 (re2js,
// as core/path-regex.ts and for the same reason: the pattern is the author's, the header the
// client's; PCRE backtracking could stall a worker), case-sensitive, unanchored (ngx.re.match).

import { RE2JS } from 're2js';
import type { CanaryRules } from '../model.ts';
import type { KubeObject } from '../snapshot.ts';
import { MAX_PATTERN_LENGTH, MAX_PROGRAM_SIZE } from '../path-regex.ts';
import { readAnnotation, parseBool, type AnnotationProblem, type AnnotationResult, type AnnotationValue } from './read-annotation.ts';

export const DEFAULT_CANARY_WEIGHT_TOTAL = 100;

/** The canary-* names other than `canary` itself. */
const RULE_NAMES = ['canary-by-header', 'canary-by-header-value', 'canary-by-header-pattern', 'canary-by-cookie', 'canary-weight', 'canary-weight-total'] as const;

const NAME = /^[-._~A-Za-z0-9]{1,256}$/;
const HEADER_VALUE = /^[-._~A-Za-z0-9/:]+(?: +[-._~A-Za-z0-9/:]+)*$/;
const INTEGER = /^\d{1,9}$/;
/** ingress-nginx's IsValidRegex characters: letters, digits, `-._~/:` and `^$[](){}*+?|&=\`. */
const PATTERN = /^[-._~A-Za-z0-9/:^$[\](){}*+?|&=\\]+$/;

/** What the Ingress's canary annotations say. */
export interface CanaryAnnotations {
  /** `canary: "true"`. */
  readonly enabled: boolean;
  /** The full keys of the canary-* annotations set (for the condition when not enabled). */
  readonly keys: readonly string[];
  readonly rules: CanaryRules;
}

/** The header pattern compiled for matching: RE2, case-sensitive, found anywhere in the value; or why it is refused. */
export function compileHeaderPattern(pattern: string): RE2JS | string {
  if (pattern.length > MAX_PATTERN_LENGTH) return `longer than ${MAX_PATTERN_LENGTH} characters`;
  if (!PATTERN.test(pattern)) return 'a regex of letters, digits, "-._~/:" and the regex characters "^$[](){}*+?|&=\\" (as ingress-nginx allows)';
  let re: RE2JS;
  try {
    re = RE2JS.compile(pattern);
  } catch (err) {
    const reason = err instanceof Error ? err.message.replace(/^error parsing regexp: /, '') : 'does not compile';
    return `not an RE2 regular expression: ${reason} (RE2 has no lookarounds or backreferences)`;
  }
  if (re.programSize() > MAX_PROGRAM_SIZE) return `compiles to ${re.programSize()} instructions, more than ${MAX_PROGRAM_SIZE} (counted repeats like {1,100} cost one per count)`;
  return re;
}

/** The canary annotations of the Ingress; undefined when none is set. */
export function readCanary(ing: KubeObject): AnnotationResult<CanaryAnnotations | undefined> {
  const problems: AnnotationProblem[] = [];
  const refuse = (v: AnnotationValue, expected: string) => problems.push({ key: v.key, message: `${v.key}: ${JSON.stringify(v.value)} is not ${expected}` });
  const get = (name: string) => readAnnotation(ing.metadata, name);
  const text = (name: string, re: RegExp, expected: string): string | undefined => {
    const v = get(name);
    if (v === undefined) return undefined;
    const t = v.value.trim();
    if (re.test(t)) return t;
    refuse(v, expected);
    return undefined;
  };
  const integer = (name: string): number | undefined => {
    const v = get(name);
    if (v === undefined) return undefined;
    const t = v.value.trim();
    if (INTEGER.test(t)) return Number(t);
    refuse(v, 'a whole number (0 or more)');
    return undefined;
  };

  const flag = get('canary');
  let enabled = false;
  if (flag !== undefined) {
    const b = parseBool(flag);
    if (typeof b === 'string') problems.push({ key: flag.key, message: b });
    else enabled = b;
  }
  const keys = RULE_NAMES.flatMap((n) => get(n)?.key ?? []);
  const name = text('canary-by-header', NAME, 'a header name (letters, digits and "-._~")');
  const value = text('canary-by-header-value', HEADER_VALUE, 'a header value (letters, digits, "-._~/:" and spaces between them)');
  const patternValue = get('canary-by-header-pattern');
  let pattern: string | undefined;
  if (patternValue !== undefined) {
    const re = compileHeaderPattern(patternValue.value);
    if (typeof re === 'string') problems.push({ key: patternValue.key, message: `${patternValue.key}: ${JSON.stringify(patternValue.value)} is ${re}` });
    else pattern = patternValue.value;
  }
  const cookie = text('canary-by-cookie', NAME, 'a cookie name (letters, digits and "-._~")');
  const weight = integer('canary-weight') ?? 0;
  const totalValue = get('canary-weight-total');
  const weightTotal = integer('canary-weight-total') ?? DEFAULT_CANARY_WEIGHT_TOTAL;
  if (totalValue !== undefined && weightTotal < DEFAULT_CANARY_WEIGHT_TOTAL && problems.length === 0) {
    refuse(totalValue, `a total of 100 or more (ingress-nginx reads a smaller total as 100: write the weight out of 100)`);
  }
  const weightValue = get('canary-weight');
  if (weightValue !== undefined && weight > weightTotal && problems.length === 0) refuse(weightValue, `a weight from 0 to canary-weight-total (${weightTotal})`);
  if (problems.length > 0) return { ok: false, problems };
  if (flag === undefined && keys.length === 0) return { ok: true, value: undefined };
  // canary-by-header-value and -pattern do nothing without canary-by-header (ingress-nginx docs).
  const header = name === undefined ? undefined : { name: name.toLowerCase().replaceAll('_', '-'), ...(value !== undefined ? { value } : pattern !== undefined ? { pattern } : {}) };
  const rules: CanaryRules = { ...(header ? { header } : {}), ...(cookie !== undefined ? { cookie: cookie.toLowerCase() } : {}), weight, weightTotal };
  return { ok: true, value: { enabled, keys, rules } };
}
