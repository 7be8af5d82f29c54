// The satisfy family (ingress-nginx "Satisfy", internal/ingress/annotations/satisfy, nginx's
// `satisfy` directive): `all` (default) — a request must pass the access lists AND every
// authentication; `any` — it passes when the access lists admit it OR an authentication passes
// (dataplane/policies/satisfy.ts). ingress-nginx trims the value and takes "any" or "all"
// (case-sensitive), and silently falls back to the default on anything else; refused here.

import type { KubeObject } from '../snapshot.ts';
import { readAnnotation, type AnnotationResult } from './read-annotation.ts';

/** `any`, or undefined for `all` (the default) and unset. */
export function readSatisfy(ing: KubeObject): AnnotationResult<'any' | undefined> {
  const v = readAnnotation(ing.metadata, 'satisfy');
  if (v === undefined) return { ok: true, value: undefined };
  const s = v.value.trim();
  if (s === 'any') return { ok: true, value: 'any' };
  if (s === 'all') return { ok: true, value: undefined };
  return { ok: false, problems: [{ key: v.key, message: `${v.key}: ${JSON.stringify(v.value)} is not "any" or "all"` }] };
}
