// Typed header lists, ours only (no ingress-nginx counterpart under its prefix):
// `gatehouse.io/request-headers` (set on the request sent upstream) and
// `gatehouse.io/response-headers` (set on the answer to the client, replacing the upstream's
// header of that name), each a list of `Name: value` lines, usually a YAML block scalar:
//
//   gatehouse.io/response-headers: |
//     X-Frame-Options: DENY
//     Cache-Control: no-store
//
// Names are RFC 9110 §5.6.2 tokens; values are printable ASCII (and tabs), surrounding
// whitespace dropped (RFC 9110 §5.5), at most MAX_VALUE characters; blank lines are skipped. A
// name may appear once per list. Refused: hop-by-hop headers (RFC 9110 §7.6.1) and Content-Length,
// which belong to the connection and the framing; in the request list also Host (upstream-vhost
// sets it) and the forwarding headers the proxy sets from the connection (X-Forwarded-*,
// X-Real-IP). Any refusal leaves the Ingress out with a condition naming the line.

import type { HeaderList, HeadersPolicy } from '../model.ts';
import type { KubeObject } from '../snapshot.ts';
import type { AnnotationProblem, AnnotationResult } from './read-annotation.ts';

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const VALUE = /^[\t\x20-\x7e]*$/;
const MAX_VALUE = 4096;
const MAX_HEADERS = 100;

const CONNECTION = new Set(['connection', 'keep-alive', 'proxy-connection', 'proxy-authenticate', 'proxy-authorization', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'expect', 'content-length']);
const FORWARDING = new Set(['host', 'x-real-ip']);

/** Why header `lower` may not be set on the request (`request`) or the response, or null (also the ConfigMap's proxy-set-headers and add-headers). */
export function headerRefusal(lower: string, request: boolean): string | null {
  if (CONNECTION.has(lower)) return 'belongs to the connection or its framing';
  if (request && (FORWARDING.has(lower) || lower.startsWith('x-forwarded-'))) {
    return lower === 'host' ? 'is set by upstream-vhost' : 'is set by the proxy from the connection';
  }
  return null;
}

function readList(key: string, value: string, request: boolean, problems: AnnotationProblem[]): HeaderList | undefined {
  const out: [string, string][] = [];
  const seen = new Set<string>();
  const fail = (line: string, why: string) => problems.push({ key, message: `${key}: line ${JSON.stringify(line)} ${why}` });
  const before = problems.length;
  for (const raw of value.split('\n')) {
    const line = raw.trim();
    if (line === '') continue;
    const colon = line.indexOf(':');
    const name = colon === -1 ? '' : line.slice(0, colon);
    const v = line.slice(colon + 1).trim();
    if (!TOKEN.test(name)) fail(line, 'is not "Name: value" with a header name (RFC 9110 token) before the colon');
    else if (!VALUE.test(v)) fail(line, 'has a value with characters other than printable ASCII and tabs');
    else if (v.length > MAX_VALUE) fail(line, `has a value longer than ${MAX_VALUE} characters`);
    else {
      const lower = name.toLowerCase();
      const why = headerRefusal(lower, request);
      if (why !== null) fail(line, `sets ${name}, which ${why}`);
      else if (seen.has(lower)) fail(line, `sets ${name} a second time`);
      else {
        seen.add(lower);
        out.push([name, v]);
      }
    }
  }
  if (out.length > MAX_HEADERS) problems.push({ key, message: `${key}: ${out.length} headers; at most ${MAX_HEADERS} are allowed` });
  else if (out.length === 0 && problems.length === before) problems.push({ key, message: `${key}: names no header (expected "Name: value" lines)` });
  return problems.length === before ? out : undefined;
}

/** The Ingress's gatehouse.io/request-headers and gatehouse.io/response-headers; undefined when neither is set. */
export function readTypedHeaders(ing: KubeObject): AnnotationResult<HeadersPolicy | undefined> {
  const problems: AnnotationProblem[] = [];
  const policy: { -readonly [K in keyof HeadersPolicy]: HeadersPolicy[K] } = {};
  for (const [field, request] of [['request', true], ['response', false]] as const) {
    const key = `gatehouse.io/${field}-headers`;
    const raw = ing.metadata.annotations?.[key];
    if (raw === undefined || raw === null) continue;
    const list = readList(key, typeof raw === 'string' ? raw : JSON.stringify(raw), request, problems);
    if (list !== undefined) policy[field] = list;
  }
  if (problems.length > 0) return { ok: false, problems };
  return { ok: true, value: Object.keys(policy).length === 0 ? undefined : policy };
}
