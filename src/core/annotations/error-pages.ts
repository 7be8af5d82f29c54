// The error-page family (ingress-nginx "Custom errors", annotations custom-http-errors and
// default-backend; internal/ingress/annotations/customhttperrors, defaultbackend, and the
// template's `error_page` / `location @custom_…`):
// - custom-http-errors: a comma list of statuses 400-599 (the ConfigMap key of the same name, the
//   default of Ingresses without the annotation: 300-599, as ingress-nginx's filterErrors). An
//   answer with one of them, from the upstream or Gatehouse's own 502/503/504, is replaced by the
//   answer of the error backend (dataplane/proxy/error-pages.ts). An Ingress's annotation replaces
//   the ConfigMap's list (nginx's error_page is not inherited into a location that has its own).
// - default-backend: a Service of the Ingress's namespace (its first port, as ingress-nginx's
//   controller.go takes Spec.Ports[0]): the error backend of the Ingress's routes while it has ready
//   endpoints (else --default-backend-service), and where requests of a route whose own backend has
//   no ready endpoint go (with X-Code 503), instead of answering 503.
// ingress-nginx's regexp for the list (`^(?:[4,5]\d{2},?)*$`) lets odd values through (`,00`,
// empty); here each entry is three digits in range, spaces around commas allowed, at least one.

import type { ErrorPagesPolicy } from '../model.ts';
import type { KubeObject } from '../snapshot.ts';
import { readAnnotation, type AnnotationProblem, type AnnotationResult } from './read-annotation.ts';

/** What an Ingress says: the codes (its own, else the ConfigMap's; may be empty) and its default-backend Service name. */
export interface ErrorPagesAnnotations {
  readonly codes: readonly number[];
  readonly defaultBackend: string | null;
}

// RFC 1035 label, as ingress-nginx's ValidateServiceName (NameIsDNS1035Label).
const SERVICE_NAME = /^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$/;

/** Statuses from a comma list, each `min`-599, sorted and unique; null when an entry is not one or there is none. */
export function parseStatusList(text: string, min: number): number[] | null {
  const codes = new Set<number>();
  for (const entry of text.split(',')) {
    const t = entry.trim();
    if (t === '') continue;
    if (!/^\d{3}$/.test(t) || Number(t) < min || Number(t) > 599) return null;
    codes.add(Number(t));
  }
  return codes.size === 0 ? null : [...codes].sort((a, b) => a - b);
}

/** custom-http-errors (else `configMapCodes`) and default-backend; undefined when neither applies. */
export function readErrorPages(ing: KubeObject, configMapCodes: readonly number[] = []): AnnotationResult<ErrorPagesAnnotations | undefined> {
  const problems: AnnotationProblem[] = [];
  let codes: readonly number[] = configMapCodes;
  const list = readAnnotation(ing.metadata, 'custom-http-errors');
  if (list !== undefined) {
    const parsed = parseStatusList(list.value, 400);
    if (parsed === null) problems.push({ key: list.key, message: `${list.key}: ${JSON.stringify(list.value)} is not a comma-separated list of HTTP status codes 400-599 (like "404,503")` });
    else codes = parsed;
  }
  let defaultBackend: string | null = null;
  const svc = readAnnotation(ing.metadata, 'default-backend');
  if (svc !== undefined) {
    const name = svc.value.trim();
    if (SERVICE_NAME.test(name)) defaultBackend = name;
    else problems.push({ key: svc.key, message: `${svc.key}: ${JSON.stringify(svc.value)} is not a Service name (an RFC 1035 label: lower-case letters, digits and '-', starting with a letter) of the Ingress's namespace` });
  }
  if (problems.length > 0) return { ok: false, problems };
  return { ok: true, value: codes.length === 0 && defaultBackend === null ? undefined : { codes, defaultBackend } };
}

/**
 * The policy of one route of the Ingress `namespace/name`, whose backend is the Service port
 * `service`:`port` as written ('' for a host's unmatched paths without spec.defaultBackend);
 * `fallback` is the backend id of the default-backend Service, or null.
 */
export function routeErrorPages(a: ErrorPagesAnnotations, ingress: string, fallback: string | null, service: string, port: string): ErrorPagesPolicy {
  const slash = ingress.indexOf('/');
  return { codes: a.codes, backend: fallback, namespace: ingress.slice(0, slash), ingress: ingress.slice(slash + 1), service, servicePort: port };
}
