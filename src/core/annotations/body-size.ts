// The body-size family: `proxy-body-size` (ingress-nginx "Custom max body size", nginx's
// client_max_body_size), the largest request body a client may send; larger ones get 413 and never
// reach the backend whole. nginx's size syntax (ngx_parse_offset): digits, optionally followed by
// k, m or g in either case (1024, 1024², 1024³); `0` turns the check off. ingress-nginx's default is
// 1m (its ConfigMap key `proxy-body-size`), for every location, annotated or not; here the
// ConfigMap's value comes in as CompileOptions.proxyBodySize and travels in the route table.
//
// ingress-nginx's validator also takes a `b` suffix, which nginx itself then refuses (the
// configuration fails its test); refused here with a condition, as is anything else.

import type { KubeObject } from '../snapshot.ts';
import { readAnnotation, type AnnotationResult } from './read-annotation.ts';

/** ingress-nginx's default proxy-body-size, 1m. */
export const DEFAULT_PROXY_BODY_SIZE = 1024 * 1024;

const SIZE = /^(\d{1,16})([kmg]?)$/i;
const UNITS: Readonly<Record<string, number>> = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 };

/** Bytes for an nginx size (`8k`, `1m`, `2G`, `1000`), or null when it is not one (or too large to count exactly). */
export function parseSize(text: string): number | null {
  const m = SIZE.exec(text);
  if (m === null) return null;
  const bytes = Number(m[1]) * UNITS[m[2]!.toLowerCase()]!;
  return Number.isSafeInteger(bytes) ? bytes : null;
}

/** proxy-body-size in bytes (0: no limit); undefined when the Ingress does not set it. */
export function readBodySize(ing: KubeObject): AnnotationResult<number | undefined> {
  const v = readAnnotation(ing.metadata, 'proxy-body-size');
  if (v === undefined) return { ok: true, value: undefined };
  // ingress-nginx trims the value of every string annotation (parser.normalizeString).
  const bytes = parseSize(v.value.trim());
  if (bytes !== null) return { ok: true, value: bytes };
  return { ok: false, problems: [{ key: v.key, message: `${v.key}: ${JSON.stringify(v.value)} is not a size (digits, optionally followed by k, m or g, like "8k", "1m" or "0" for no limit)` }] };
}
