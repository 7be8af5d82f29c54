// The CORS family (ingress-nginx "Enable CORS",
// https://kubernetes.github.io/ingress-nginx/user-guide/nginx-configuration/annotations/#enable-cors,
// internal/ingress/annotations/cors/main.go and the CORS block of nginx.tmpl), for every path of
// the Ingress:
// - `enable-cors` (bool, default false) turns it on; the others only shape it.
// - `cors-allow-origin`: comma-separated origins, each `scheme://host[:port]` (scheme lower-case
//   letters), `scheme://*.host[:port]` (the `*` stands for exactly one DNS label), `null`, or `*`
//   (any origin; it wins over the rest of the list). Default `*`. Empty entries are skipped.
// - `cors-allow-methods` (letters; default "GET, PUT, POST, DELETE, PATCH, OPTIONS"),
//   `cors-allow-headers` (letters, digits, `-`, `_`; default ingress-nginx's list),
//   `cors-expose-headers` (those or `*`; default none): comma-separated lists, sent as
//   "a, b, c".
// - `cors-allow-credentials` (bool, default true), `cors-max-age` (seconds, default 1728000).
// ingress-nginx logs a bad value and falls back to the default (or skips a bad origin); here a
// bad value leaves the Ingress out with a condition naming it, as does an empty value.

import type { CorsPolicy } from '../model.ts';
import type { KubeObject } from '../snapshot.ts';
import { parseBool, readAnnotation, type AnnotationProblem, type AnnotationResult, type AnnotationValue } from './read-annotation.ts';

// ingress-nginx's defaults (cors/main.go).
export const DEFAULT_CORS_METHODS = 'GET, PUT, POST, DELETE, PATCH, OPTIONS';
export const DEFAULT_CORS_HEADERS = 'DNT,Keep-Alive,User-Agent,X-Requested-With,If-Modified-Since,Cache-Control,Content-Type,Range,Authorization';
export const DEFAULT_CORS_MAX_AGE = 1728000;

// ingress-nginx's corsOriginRegex, `^([a-z]+://(\*\.)?[A-Za-z0-9\-.]*(:\d+)?|\*|null)?$`, with a
// host required (it allows `https://`) made of DNS labels, and a port that is one.
const ORIGIN = /^[a-z]+:\/\/(?:\*\.)?[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*(?::\d{1,5})?$/;
const METHOD = /^[A-Za-z]+$/;
const HEADER = /^[A-Za-z0-9_-]+$/;
const EXPOSE = /^(?:[A-Za-z0-9_-]+|\*)$/;
/** Entries per list; origins beyond this are a table no browser sends. */
const MAX_ENTRIES = 100;

/** The CORS policy of the Ingress, or undefined when enable-cors is not true. */
export function readCors(ing: KubeObject): AnnotationResult<CorsPolicy | undefined> {
  const problems: AnnotationProblem[] = [];
  const get = (name: string) => readAnnotation(ing.metadata, name);
  const bool = (name: string, fallback: boolean): boolean => {
    const v = get(name);
    if (v === undefined) return fallback;
    const b = parseBool(v);
    if (typeof b === 'boolean') return b;
    problems.push({ key: v.key, message: b });
    return fallback;
  };
  /** A comma-separated list, entries checked by `entry`, joined with ", ". */
  const list = (name: string, fallback: string, entry: RegExp, expected: string): string => {
    const v = get(name);
    if (v === undefined) return fallback;
    const entries = v.value.split(',').map((e) => e.trim());
    const bad = entries.find((e) => !entry.test(e));
    if (bad === undefined && entries.length <= MAX_ENTRIES) return entries.join(', ');
    problems.push({ key: v.key, message: `${v.key}: ${JSON.stringify(v.value)} is not a comma-separated list of ${expected}${bad === undefined ? ` (at most ${MAX_ENTRIES})` : ` (${JSON.stringify(bad)} is not one)`}` });
    return fallback;
  };

  const enabled = bool('enable-cors', false);
  const origins = readOrigins(get('cors-allow-origin'), problems);
  const methods = list('cors-allow-methods', DEFAULT_CORS_METHODS, METHOD, 'HTTP methods (letters)');
  const headers = list('cors-allow-headers', DEFAULT_CORS_HEADERS, HEADER, 'header names (letters, digits, "-" and "_")');
  const exposeHeaders = list('cors-expose-headers', '', EXPOSE, 'header names (letters, digits, "-" and "_") or "*"');
  const credentials = bool('cors-allow-credentials', true);
  let maxAge = DEFAULT_CORS_MAX_AGE;
  const age = get('cors-max-age');
  if (age !== undefined) {
    // Go's strconv.Atoi, as ingress-nginx reads it: an optional sign and decimal digits.
    if (/^[+-]?\d{1,9}$/.test(age.value)) maxAge = Number(age.value);
    else problems.push({ key: age.key, message: `${age.key}: ${JSON.stringify(age.value)} is not a whole number of seconds` });
  }
  if (problems.length > 0) return { ok: false, problems };
  if (!enabled) return { ok: true, value: undefined };
  return { ok: true, value: { origins, methods, headers, exposeHeaders, credentials, maxAge } };
}

/** cors-allow-origin: `*`, or the origins lower-cased (matching is case-insensitive, as nginx's `~*`). */
function readOrigins(v: AnnotationValue | undefined, problems: AnnotationProblem[]): '*' | readonly string[] {
  if (v === undefined) return '*';
  const entries = v.value.split(',').map((e) => e.trim()).filter((e) => e !== '');
  const bad = entries.find((e) => e !== '*' && e !== 'null' && !ORIGIN.test(e));
  if (entries.length === 0 || bad !== undefined || entries.length > MAX_ENTRIES) {
    const why = entries.length === 0 ? 'it names none' : bad !== undefined ? `${JSON.stringify(bad)} is not one` : `more than ${MAX_ENTRIES}`;
    problems.push({ key: v.key, message: `${v.key}: ${JSON.stringify(v.value)} is not a comma-separated list of origins ("scheme://host[:port]", "scheme://*.host[:port]", "null" or "*"): ${why}` });
    return '*';
  }
  if (entries.includes('*')) return '*';
  return [...new Set(entries.map((e) => e.toLowerCase()))];
}
