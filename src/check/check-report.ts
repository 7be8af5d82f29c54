// The migration report of `gatehouse check` (docs/check.md), built from what the controller itself
// computes: the compile result (src/core/compile.ts), the TLS and Secret checks' conditions
// (src/control/tls/), and the annotation catalogue (core/annotations/annotation-catalogue.ts) that
// compile refuses and reports with. Nothing here decides anything the controller does not.

import { CATALOGUE, GATEHOUSE_ONLY, refusal } from '../core/annotations/annotation-catalogue.ts';
import { ANNOTATION_PREFIXES } from '../core/annotations/read-annotation.ts';
import type { CompileResult } from '../core/compile.ts';
import type { Condition } from '../core/model.ts';
import type { KubeObject } from '../core/snapshot.ts';
import type { ErrorCode } from '../errors.ts';

/** Bumped when a field changes meaning or goes; new fields may be added within a version. */
export const REPORT_VERSION = 1;

export type AnnotationStatus = 'supported' | 'differs' | 'refused' | 'unsupported' | 'unknown' | 'invalid';
export const STATUSES: readonly AnnotationStatus[] = ['supported', 'differs', 'refused', 'unsupported', 'unknown', 'invalid'];

export interface AnnotationReport {
  /** The full key, as written. */
  readonly key: string;
  readonly status: AnnotationStatus;
  /** How it differs, why it is refused and what instead, what happens, or the grammar's message. */
  readonly note: string;
}

export interface Problem {
  readonly code: string;
  /** The field of the object it is about ('' when none). */
  readonly field: string;
  readonly message: string;
}

export type IngressState = 'served' | 'left out' | 'not ours';

export interface IngressReport {
  readonly namespace: string;
  readonly name: string;
  /** spec.ingressClassName, else the kubernetes.io/ingress.class annotation, else null. */
  readonly class: string | null;
  /** served: in the table; left out: whole, for a refused annotation or shape; not ours: another class. */
  readonly state: IngressState;
  /** Annotations under `nginx.ingress.kubernetes.io/` and `gatehouse.io/`, by key (empty when not ours). */
  readonly annotations: readonly AnnotationReport[];
  /** Every other condition that names this Ingress. */
  readonly problems: readonly Problem[];
  /** Ours, served, every annotation `supported`, no problem. */
  readonly asIngressNginx: boolean;
}

export interface GlobalProblem extends Problem {
  /** What it is about: `Secret ns/name`, `ConfigMap ns/name`, a manifest file, ... */
  readonly object: string;
}

export interface CheckReport {
  readonly version: number;
  /** `manifests` with the directory, or `cluster` with the API server's URL. */
  readonly source: { readonly manifests: string } | { readonly cluster: string };
  readonly ingresses: readonly IngressReport[];
  /** Conditions about no Ingress (ConfigMap keys, the default certificate, manifests that do not parse). */
  readonly problems: readonly GlobalProblem[];
  readonly summary: {
    readonly ingresses: number;
    readonly notOurs: number;
    readonly asIngressNginx: number;
    readonly leftOut: number;
    readonly annotations: Readonly<Record<AnnotationStatus, number>>;
    readonly problems: number;
  };
  /** 0: everything ours behaves as under ingress-nginx; 1: something does not. */
  readonly exitCode: 0 | 1;
}

/** Codes whose condition is about one annotation's name or value: shown on the annotation, not as a problem. */
const ANNOTATION_CODES: ReadonlySet<ErrorCode> = new Set(['GH_ANNOTATION_INVALID', 'GH_ANNOTATION_SNIPPET', 'GH_ANNOTATION_REFUSED', 'GH_ANNOTATION_UNKNOWN', 'GH_ANNOTATION_UNSUPPORTED']);

const OWN = 'Gatehouse\'s own annotation (docs/annotations.md)';

function annotationField(key: string): string {
  return `metadata.annotations[${JSON.stringify(key)}]`;
}

/** What Gatehouse does with the annotation `key` = `value`, by the catalogue; compile's conditions decide `invalid`. */
function classify(key: string, value: string, invalid: string | undefined): AnnotationReport {
  if (invalid !== undefined) return { key, status: 'invalid', note: invalid };
  const prefix = ANNOTATION_PREFIXES.find((p) => key.startsWith(p))!;
  const name = key.slice(prefix.length);
  const entry = CATALOGUE[name];
  if (GATEHOUSE_ONLY.has(name)) {
    return prefix === 'gatehouse.io/' ? { key, status: 'supported', note: OWN } : { key, status: 'unknown', note: `Gatehouse reads gatehouse.io/${name} only; ingress-nginx has no such annotation` };
  }
  if (entry === undefined) {
    return { key, status: 'unknown', note: prefix === 'gatehouse.io/' ? 'neither Gatehouse nor ingress-nginx reads it: a misspelt name?' : 'ingress-nginx does not read it either: a misspelt or removed name?' };
  }
  if (entry.status === 'refused') {
    if (refusal(entry, key, value).refused) return { key, status: 'refused', note: entry.note };
    return { key, status: 'supported', note: `${JSON.stringify(value)} asks for nothing, as under ingress-nginx` };
  }
  if (prefix === 'gatehouse.io/' && entry.status === 'unsupported') return { key, status: 'unknown', note: `Gatehouse does not read it: ${entry.note}` };
  return { key, status: entry.status, note: entry.note };
}

function className(ing: KubeObject): string | null {
  const field = (ing.spec as { ingressClassName?: unknown } | undefined)?.ingressClassName;
  if (typeof field === 'string') return field;
  const legacy = ing.metadata.annotations?.['kubernetes.io/ingress.class'];
  return typeof legacy === 'string' ? legacy : null;
}

function text(raw: unknown): string {
  return typeof raw === 'string' ? raw : JSON.stringify(raw ?? '');
}

export interface ReportInput {
  readonly source: CheckReport['source'];
  /** Every Ingress read (ours or not). */
  readonly ingresses: readonly KubeObject[];
  readonly compiled: Pick<CompileResult, 'ingresses' | 'accepted'>;
  /** Compile's conditions and the TLS checks', together. */
  readonly conditions: readonly Condition[];
  /** Problems reading the objects (manifests that do not parse, objects left out). */
  readonly loadProblems: readonly GlobalProblem[];
}

export function buildReport(input: ReportInput): CheckReport {
  const owned = new Set(input.compiled.ingresses);
  const accepted = new Set(input.compiled.accepted);
  const byIngress = new Map<string, Condition[]>();
  const problems: GlobalProblem[] = [...input.loadProblems];
  for (const c of input.conditions) {
    if (c.ref.kind !== 'Ingress') {
      problems.push({ object: `${c.ref.kind} ${c.ref.namespace === '' ? '' : `${c.ref.namespace}/`}${c.ref.name}`, code: c.code, field: c.field, message: c.message });
      continue;
    }
    const key = `${c.ref.namespace}/${c.ref.name}`;
    const list = byIngress.get(key);
    if (list === undefined) byIngress.set(key, [c]);
    else list.push(c);
  }

  const ingresses = [...input.ingresses].sort((a, b) => cmp(`${a.metadata.namespace}/${a.metadata.name}`, `${b.metadata.namespace}/${b.metadata.name}`)).map((ing): IngressReport => {
    const key = `${ing.metadata.namespace}/${ing.metadata.name}`;
    const base = { namespace: ing.metadata.namespace ?? '', name: ing.metadata.name, class: className(ing) };
    if (!owned.has(key)) return { ...base, state: 'not ours', annotations: [], problems: [], asIngressNginx: false };
    const conditions = byIngress.get(key) ?? [];
    const keys = Object.keys(ing.metadata.annotations ?? {}).filter((k) => ANNOTATION_PREFIXES.some((p) => k.startsWith(p))).sort(cmp);
    const annotations = keys.map((k) => {
      const invalid = conditions.find((c) => c.code === 'GH_ANNOTATION_INVALID' && c.field === annotationField(k));
      return classify(k, text(ing.metadata.annotations?.[k]), invalid?.message);
    });
    const shown = new Set(keys.map(annotationField));
    const own = conditions.filter((c) => !(ANNOTATION_CODES.has(c.code) && shown.has(c.field))).map((c) => ({ code: c.code, field: c.field, message: c.message }));
    const state: IngressState = accepted.has(key) ? 'served' : 'left out';
    return { ...base, state, annotations, problems: own, asIngressNginx: state === 'served' && own.length === 0 && annotations.every((a) => a.status === 'supported') };
  });

  const counts = Object.fromEntries(STATUSES.map((s) => [s, 0])) as Record<AnnotationStatus, number>;
  for (const i of ingresses) for (const a of i.annotations) counts[a.status]++;
  const ours = ingresses.filter((i) => i.state !== 'not ours');
  const problemCount = problems.length + ours.reduce((n, i) => n + i.problems.length, 0);
  const good = ours.filter((i) => i.asIngressNginx).length;
  return {
    version: REPORT_VERSION,
    source: input.source,
    ingresses,
    problems,
    summary: {
      ingresses: ingresses.length,
      notOurs: ingresses.length - ours.length,
      asIngressNginx: good,
      leftOut: ours.filter((i) => i.state === 'left out').length,
      annotations: counts,
      problems: problemCount,
    },
    exitCode: good === ours.length && problems.length === 0 ? 0 : 1,
  };
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
