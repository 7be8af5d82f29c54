// Reading one annotation under both prefixes (DESIGN.md "Annotations"): ours, `gatehouse.io/`,
// and ingress-nginx's, `nginx.ingress.kubernetes.io/`, for migration, with ingress-nginx's value
// syntax. When both are set, ours wins. Values are typed data, never configuration text.

import type { ErrorCode } from '../../errors.ts';
import type { ObjectMeta } from '../snapshot.ts';

export const ANNOTATION_PREFIXES = ['gatehouse.io/', 'nginx.ingress.kubernetes.io/'] as const;

/** A value that failed its family's grammar: the annotation (full key) and the reason. */
export interface AnnotationProblem {
  readonly key: string;
  readonly message: string;
  /** The condition's code when it is not GH_ANNOTATION_INVALID (a problem with an object the value names). */
  readonly code?: ErrorCode;
}

/** One family's reading of an Ingress: its typed policy, or the problems that leave the Ingress out. */
export type AnnotationResult<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly problems: readonly AnnotationProblem[] };

export interface AnnotationValue {
  /** The full key it was read under (`nginx.ingress.kubernetes.io/ssl-redirect`). */
  readonly key: string;
  readonly value: string;
}

/**
 * The annotation `name` (without prefix) under our prefix, else under ingress-nginx's; undefined
 * when neither is set. A value that is not a string (hand-written manifests) reads as its JSON
 * text, so the grammar refuses it with a message that shows it.
 */
export function readAnnotation(meta: Pick<ObjectMeta, 'annotations'>, name: string): AnnotationValue | undefined {
  for (const prefix of ANNOTATION_PREFIXES) {
    const key = prefix + name;
    const raw = meta.annotations?.[key];
    if (raw === undefined || raw === null) continue;
    return { key, value: typeof raw === 'string' ? raw : JSON.stringify(raw) };
  }
  return undefined;
}

// Go's strconv.ParseBool, which ingress-nginx's parser.GetBoolAnnotation uses.
const TRUE = new Set(['1', 't', 'T', 'TRUE', 'true', 'True']);
const FALSE = new Set(['0', 'f', 'F', 'FALSE', 'false', 'False']);

/** A boolean annotation as ingress-nginx reads it; a string is the reason it is invalid. */
export function parseBool(v: AnnotationValue): boolean | string {
  if (TRUE.has(v.value)) return true;
  if (FALSE.has(v.value)) return false;
  return `${v.key}: ${JSON.stringify(v.value)} is not a boolean ("true" or "false")`;
}

/** The boolean annotation `name` (parseBool), `fallback` when it is not set; a bad value is pushed onto `problems` (and reads as `fallback`). */
export function readBool(meta: Pick<ObjectMeta, 'annotations'>, name: string, fallback: boolean, problems: AnnotationProblem[]): boolean {
  const v = readAnnotation(meta, name);
  if (v === undefined) return fallback;
  const b = parseBool(v);
  if (typeof b === 'boolean') return b;
  problems.push({ key: v.key, message: b });
  return fallback;
}
