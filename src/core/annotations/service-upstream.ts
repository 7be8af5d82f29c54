// service-upstream (ingress-nginx "Service Upstream", internal/ingress/annotations/serviceupstream):
// "true" sends the Ingress's traffic to its Services' ClusterIP and port, one endpoint that
// kube-proxy balances, instead of to the EndpointSlices' addresses (no per-endpoint balancing,
// retries or health). The ConfigMap key of the same name is the default. A headless Service (no
// ClusterIP) keeps its endpoints, with a condition (ingress-nginx logs an error and does the same);
// processors/services.ts `clusterIpBackend`.

import type { KubeObject } from '../snapshot.ts';
import { parseBool, readAnnotation, type AnnotationResult } from './read-annotation.ts';

export function readServiceUpstream(ing: KubeObject, fallback = false): AnnotationResult<boolean> {
  const v = readAnnotation(ing.metadata, 'service-upstream');
  if (v === undefined) return { ok: true, value: fallback };
  const b = parseBool(v);
  return typeof b === 'boolean' ? { ok: true, value: b } : { ok: false, problems: [{ key: v.key, message: b }] };
}
