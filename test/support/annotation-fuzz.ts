// Property-test helpers for the annotation grammars (fast-check): random annotation values into a
// family's reader must never throw, and nothing it yields (a value, or a problem's message) may
// carry a control character (CR, LF, NUL …) that could reach a header, a path or a log line.

import { printable } from '../../src/core/conditions.ts';
import fc from 'fast-check';
import { expect } from 'vitest';
import type { KubeObject } from '../../src/core/snapshot.ts';
import type { AnnotationResult } from '../../src/core/annotations/read-annotation.ts';

/** An Ingress with these annotations. */
export function annotated(annotations: Record<string, unknown>): KubeObject {
  return { apiVersion: 'networking.k8s.io/v1', kind: 'Ingress', metadata: { name: 'web', namespace: 'shop', annotations } };
}

/** Any string, biased toward the characters grammars split on and the ones they must refuse. */
export const annotationValue: fc.Arbitrary<string> = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 80 }),
  fc.string({ unit: fc.constantFrom(...'abcAZ019 ,.:/*-_%\t\r\n\0\u0085\u2028\u00ff', '::ffff:', '10.0.0.0/8', 'https://', '\r\n'), maxLength: 30 }),
);

/** Whether `t` holds a C0 control character or DEL. */
function hasControl(t: string): boolean {
  for (let i = 0; i < t.length; i++) {
    const c = t.charCodeAt(i);
    if (c < 0x20 || c === 0x7f) return true;
  }
  return false;
}

function strings(value: unknown, out: string[] = []): string[] {
  if (typeof value === 'string') out.push(value);
  else if (Array.isArray(value)) for (const v of value) strings(v, out);
  else if (value !== null && typeof value === 'object') for (const v of Object.values(value)) strings(v, out);
  return out;
}

/** Asserts that `read` never throws on `name` set to random values, and yields no control characters. */
export function fuzzAnnotation<T>(names: readonly string[], read: (ing: KubeObject) => AnnotationResult<T>, extra: Record<string, string> = {}): void {
  fc.assert(
    fc.property(fc.constantFrom(...names), annotationValue, (name, value) => {
      const r = read(annotated({ ...extra, [name]: value }));
      // A refusal's text reaches conditions through compile's printableConditions (DEL and C1
      // controls, which JSON.stringify leaves, escaped there); a value is used as it is.
      const texts = r.ok ? strings(r.value) : r.problems.flatMap((p) => [p.key, printable(p.message)]);
      // A value's tab is allowed (header values may hold one); no other control character.
      for (const t of texts) expect(hasControl(t.replaceAll('\t', ' ')), JSON.stringify(t)).toBe(false);
    }),
    { numRuns: 2000 },
  );
}

/** Asserts that `r` refused one value: one problem, naming the annotation (`key`) and quoting `value`, its message saying `why`. */
export function expectRefused<T>(r: AnnotationResult<T>, key: string, value: string, why: string): void {
  expect(r.ok).toBe(false);
  if (r.ok) return;
  expect(r.problems).toHaveLength(1);
  expect(r.problems[0]!.key).toBe(key);
  expect(r.problems[0]!.message).toContain(`${key}: ${JSON.stringify(value)}`);
  expect(r.problems[0]!.message).toContain(why);
}
