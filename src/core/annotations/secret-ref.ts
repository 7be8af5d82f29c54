// An annotation that names a Secret as "namespace/name" (proxy-ssl-secret, auth-tls-secret), as
// ingress-nginx's k8s.ParseNameNS reads it. Only the Ingress's own namespace, as ingress-nginx
// ("cross namespace secrets are not supported"). The Secret itself is read and checked by the
// control plane, outside compile.

import type { UpstreamSecretRef } from '../model.ts';
import type { KubeObject } from '../snapshot.ts';
import { readAnnotation, type AnnotationProblem } from './read-annotation.ts';

// Kubernetes object names: a DNS-1123 subdomain (Secret names), a DNS-1123 label (namespaces).
const SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

/** The Secret the annotation `name` names, with the Ingress and annotation conditions name; undefined when unset or refused (the problem pushed). */
export function readSecretRef(ing: KubeObject, name: string, problems: AnnotationProblem[]): UpstreamSecretRef | undefined {
  const s = readAnnotation(ing.metadata, name);
  if (s === undefined) return undefined;
  const parts = s.value.split('/');
  const [ns = '', secret = ''] = parts;
  if (parts.length !== 2 || !LABEL.test(ns) || secret.length > 253 || !SUBDOMAIN.test(secret)) {
    problems.push({ key: s.key, message: `${s.key}: ${JSON.stringify(s.value)} is not "namespace/name" of a Secret` });
  } else if (ns !== ing.metadata.namespace) {
    problems.push({ key: s.key, message: `${s.key}: Secret ${s.value} is in another namespace; only Secrets of the Ingress's namespace (${ing.metadata.namespace}) may be named` });
  } else {
    return { ref: s.value, ingress: `${ing.metadata.namespace}/${ing.metadata.name}`, field: `metadata.annotations[${JSON.stringify(s.key)}]` };
  }
  return undefined;
}
