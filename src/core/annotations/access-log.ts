// The access-log family (ingress-nginx "Enable Access Log", internal/ingress/annotations/log):
// `enable-access-log: "false"` leaves the Ingress's requests out of the access log
// (dataplane/observe/access-log.ts); they still count in the metrics. Default true. ingress-nginx
// silently takes a value that is no bool as true; refused here. `enable-rewrite-log` has no
// meaning in Gatehouse (there is no rewrite log) and stays unsupported.

import type { KubeObject } from '../snapshot.ts';
import { parseBool, readAnnotation, type AnnotationResult } from './read-annotation.ts';

/** false when the Ingress's requests are not logged; undefined: logged (the default). */
export function readAccessLog(ing: KubeObject): AnnotationResult<false | undefined> {
  const v = readAnnotation(ing.metadata, 'enable-access-log');
  if (v === undefined) return { ok: true, value: undefined };
  const parsed = parseBool(v);
  if (typeof parsed === 'string') return { ok: false, problems: [{ key: v.key, message: parsed }] };
  return { ok: true, value: parsed ? undefined : false };
}
