// ingress-nginx's `custom-headers` (internal/ingress/annotations/customheaders): the value names a
// ConfigMap whose data are response headers (`Header-Name: value`) set on the answers of the
// Ingress's routes, as `more_set_headers` in its locations. The value is `namespace/name`, as
// ingress-nginx's docs write it (its store looks the value up as a namespace/name key); a bare
// `name` is the Ingress's own namespace. The ConfigMap must be in the Ingress's namespace (the
// annotation's documentation: "Only ConfigMaps on the same namespace are allowed"; ingress-nginx
// does not check it), so an Ingress cannot publish another namespace's data.
//
// Every header name must be listed in the --configmap ConfigMap's key
// `global-allowed-response-headers` (default empty: custom-headers is refused until the operator
// allows names). Entries follow the header ConfigMaps' rules (global-config.ts parseHeaderData),
// with a `$` taken literally, as ingress-nginx escapes it here (escapeLiteralDollar).
//
// ingress-nginx denies the Ingress's locations (503) when the ConfigMap is missing or an entry
// is invalid or not allowed. Here the Ingress is left out, with GH_CUSTOM_HEADERS_REFUSED naming
// the annotation, the ConfigMap and the header; a value that is not a ConfigMap name (or names
// another namespace's) is GH_ANNOTATION_INVALID, as any grammar failure.

import { parseHeaderData } from '../global-config.ts';
import type { HeaderList } from '../model.ts';
import type { KubeObject } from '../snapshot.ts';
import { readAnnotation, type AnnotationResult } from './read-annotation.ts';

// Namespace: a DNS-1123 label; ConfigMap name: a DNS-1123 subdomain.
const REF = /^(?:([a-z0-9](?:[-a-z0-9]{0,61}[a-z0-9])?)\/)?([a-z0-9](?:[-a-z0-9.]{0,251}[a-z0-9])?)$/;

/** The ConfigMap a custom-headers annotation names. */
export interface CustomHeadersRef {
  /** The annotation's full key. */
  readonly key: string;
  readonly namespace: string;
  readonly name: string;
}

/** What resolving the ConfigMap needs: the snapshot's ConfigMaps and the ConfigMap's allowed names (lower case). */
export interface CustomHeadersContext {
  readonly configMap: (namespace: string, name: string) => KubeObject | undefined;
  readonly allowed: readonly string[];
}

/** The ConfigMap the Ingress's custom-headers names (grammar only); undefined when unset. */
export function readCustomHeadersRef(ing: KubeObject): AnnotationResult<CustomHeadersRef | undefined> {
  return readConfigMapRef(ing, 'custom-headers');
}

/** The ConfigMap the annotation `name` names (custom-headers, auth-proxy-set-headers), in the Ingress's namespace (grammar only); undefined when unset. */
export function readConfigMapRef(ing: KubeObject, name: string): AnnotationResult<CustomHeadersRef | undefined> {
  const v = readAnnotation(ing.metadata, name);
  if (v === undefined) return { ok: true, value: undefined };
  const own = ing.metadata.namespace;
  const m = REF.exec(v.value.trim());
  if (m === null) {
    return { ok: false, problems: [{ key: v.key, message: `${v.key}: ${JSON.stringify(v.value)} is not a ConfigMap (expected "namespace/name", or "name" in the Ingress's namespace)` }] };
  }
  const namespace = m[1] ?? own;
  if (namespace !== own) {
    return { ok: false, problems: [{ key: v.key, message: `${v.key}: ConfigMap ${namespace}/${m[2]!} is in another namespace; only ConfigMaps of the Ingress's namespace (${own}) are allowed` }] };
  }
  return { ok: true, value: { key: v.key, namespace, name: m[2]! } };
}

/** The response headers of the Ingress's custom-headers ConfigMap (names lower case); undefined when unset. */
export function readCustomHeaders(ing: KubeObject, ctx: CustomHeadersContext): AnnotationResult<HeaderList | undefined> {
  const ref = readCustomHeadersRef(ing);
  if (!ref.ok) return ref;
  if (ref.value === undefined) return { ok: true, value: undefined };
  const { key, namespace, name } = ref.value;
  const refused = (why: string): AnnotationResult<HeaderList | undefined> => ({ ok: false, problems: [{ key, code: 'GH_CUSTOM_HEADERS_REFUSED', message: `${key}: ConfigMap ${namespace}/${name} ${why}` }] });
  const cm = ctx.configMap(namespace, name);
  if (cm === undefined) return refused('does not exist');
  const { headers, problems } = parseHeaderData(cm.data, 'response', true);
  if (problems.length > 0) return refused(problems.map((p) => p.message).join('; '));
  const list: [string, string][] = [];
  for (let i = 0; i < headers.length; i += 2) list.push([headers[i]!, headers[i + 1]!]);
  const notAllowed = list.map(([n]) => n).filter((n) => !ctx.allowed.includes(n));
  if (notAllowed.length > 0) {
    const names = notAllowed.map((n) => JSON.stringify(n)).join(', ');
    return refused(`sets ${names}, which the --configmap ConfigMap's global-allowed-response-headers does not list (${ctx.allowed.length === 0 ? 'it lists none' : `it lists ${ctx.allowed.join(', ')}`})`);
  }
  return { ok: true, value: list };
}
