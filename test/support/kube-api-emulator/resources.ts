// The resource types the Kubernetes API emulator serves, with the facts about each that the real
// API server's REST storage encodes (scope, status subresource, create-on-update, field selectors,
// defaults). Paths follow https://kubernetes.io/docs/reference/using-api/api-concepts/#resource-uris.

export type Obj = Record<string, unknown>;

export interface ResourceType {
  /** '' for the core group. */
  readonly group: string;
  readonly version: string;
  /** `group/version`, or just `version` for the core group. */
  readonly apiVersion: string;
  readonly plural: string;
  readonly singular: string;
  readonly kind: string;
  readonly namespaced: boolean;
  /** Has a `/status` subresource: the main resource ignores status, `/status` writes only status. */
  readonly statusSubresource: boolean;
  /** PUT to a missing object creates it (the REST strategy's AllowCreateOnUpdate). */
  readonly createOnUpdate: boolean;
  /** Field-selector labels beyond metadata.name and metadata.namespace, each a dotted path into the object. */
  readonly fields: Readonly<Record<string, string>>;
  /** Server-side defaulting applied on every write (the object is a fresh copy). */
  readonly defaults?: (obj: Obj) => void;
}

function rt(spec: Omit<ResourceType, 'apiVersion' | 'createOnUpdate' | 'fields' | 'statusSubresource'> & Partial<Pick<ResourceType, 'createOnUpdate' | 'fields' | 'statusSubresource'>>): ResourceType {
  return {
    ...spec,
    apiVersion: spec.group ? `${spec.group}/${spec.version}` : spec.version,
    statusSubresource: spec.statusSubresource ?? false,
    createOnUpdate: spec.createOnUpdate ?? false,
    fields: spec.fields ?? {},
  };
}

// The field selectors that k8s.io/kubernetes/pkg/registry/core/event/strategy.go supports.
const coreEventFields = {
  'involvedObject.kind': 'involvedObject.kind',
  'involvedObject.namespace': 'involvedObject.namespace',
  'involvedObject.name': 'involvedObject.name',
  'involvedObject.uid': 'involvedObject.uid',
  'involvedObject.apiVersion': 'involvedObject.apiVersion',
  'involvedObject.resourceVersion': 'involvedObject.resourceVersion',
  'involvedObject.fieldPath': 'involvedObject.fieldPath',
  reason: 'reason',
  reportingComponent: 'reportingComponent',
  source: 'source.component',
  type: 'type',
};

function spec(obj: Obj): Obj {
  if (typeof obj.spec !== 'object' || obj.spec === null) obj.spec = {};
  return obj.spec as Obj;
}

export const RESOURCES: readonly ResourceType[] = [
  rt({ group: '', version: 'v1', plural: 'namespaces', singular: 'namespace', kind: 'Namespace', namespaced: false, statusSubresource: true,
    fields: { 'status.phase': 'status.phase' },
    defaults: (o) => {
      const status = (typeof o.status === 'object' && o.status !== null ? o.status : (o.status = {})) as Obj;
      status.phase ??= 'Active';
    } }),
  rt({ group: '', version: 'v1', plural: 'services', singular: 'service', kind: 'Service', namespaced: true, statusSubresource: true,
    defaults: (o) => { const s = spec(o); s.type ??= 'ClusterIP'; } }),
  rt({ group: '', version: 'v1', plural: 'secrets', singular: 'secret', kind: 'Secret', namespaced: true,
    fields: { type: 'type' },
    defaults: (o) => { o.type ??= 'Opaque'; } }),
  rt({ group: '', version: 'v1', plural: 'configmaps', singular: 'configmap', kind: 'ConfigMap', namespaced: true }),
  rt({ group: '', version: 'v1', plural: 'events', singular: 'event', kind: 'Event', namespaced: true, createOnUpdate: true, fields: coreEventFields }),
  rt({ group: 'networking.k8s.io', version: 'v1', plural: 'ingresses', singular: 'ingress', kind: 'Ingress', namespaced: true, statusSubresource: true }),
  rt({ group: 'networking.k8s.io', version: 'v1', plural: 'ingressclasses', singular: 'ingressclass', kind: 'IngressClass', namespaced: false }),
  rt({ group: 'discovery.k8s.io', version: 'v1', plural: 'endpointslices', singular: 'endpointslice', kind: 'EndpointSlice', namespaced: true }),
  rt({ group: 'coordination.k8s.io', version: 'v1', plural: 'leases', singular: 'lease', kind: 'Lease', namespaced: true, createOnUpdate: true }),
  rt({ group: 'events.k8s.io', version: 'v1', plural: 'events', singular: 'event', kind: 'Event', namespaced: true, createOnUpdate: true,
    fields: {
      'regarding.kind': 'regarding.kind',
      'regarding.namespace': 'regarding.namespace',
      'regarding.name': 'regarding.name',
      'regarding.uid': 'regarding.uid',
      reason: 'reason',
      reportingController: 'reportingController',
      type: 'type',
    } }),
];

/** The resource served at `/api/<version>/<plural>` or `/apis/<group>/<version>/<plural>`. */
export function findResource(group: string, version: string, plural: string): ResourceType | undefined {
  return RESOURCES.find((r) => r.group === group && r.version === version && r.plural === plural);
}

/**
 * Resolves the loose names tests use for a type: `Ingress`, `ingress`, `ingresses`,
 * `ingresses.networking.k8s.io`, `networking.k8s.io/v1/Ingress`, or an object's
 * `{ apiVersion, kind }`. A bare `Event`/`events` means core v1 Events.
 */
export function resolveResource(ref: string | { apiVersion?: string; kind?: string }): ResourceType {
  if (typeof ref !== 'string') {
    const found = RESOURCES.find((r) => r.apiVersion === ref.apiVersion && r.kind === ref.kind);
    if (!found) throw new Error(`kube-api-emulator: no resource for apiVersion ${String(ref.apiVersion)} kind ${String(ref.kind)}`);
    return found;
  }
  const slash = ref.lastIndexOf('/');
  if (slash >= 0) {
    const apiVersion = ref.slice(0, slash);
    const kind = ref.slice(slash + 1);
    const found = RESOURCES.find((r) => r.apiVersion === apiVersion && (r.kind === kind || r.plural === kind));
    if (found) return found;
  } else {
    const dot = ref.indexOf('.');
    const name = (dot >= 0 ? ref.slice(0, dot) : ref).toLowerCase();
    const group = dot >= 0 ? ref.slice(dot + 1) : undefined;
    const candidates = RESOURCES.filter((r) => (group === undefined || r.group === group)
      && (r.plural === name || r.singular === name || r.kind.toLowerCase() === name));
    // The core group first, so a bare `Event` is core v1.
    const found = candidates.find((r) => r.group === '') ?? candidates[0];
    if (found) return found;
  }
  throw new Error(`kube-api-emulator: unknown resource ${JSON.stringify(ref)}`);
}

/** `ingresses.networking.k8s.io` or `configmaps`: how the API server names a resource in messages. */
export function qualifiedName(r: ResourceType): string {
  return r.group ? `${r.plural}.${r.group}` : r.plural;
}

/** Reads a dotted path (`involvedObject.name`) out of an object; '' when absent, as the API server does. */
export function fieldValue(obj: Obj, path: string): string {
  let cur: unknown = obj;
  for (const part of path.split('.')) {
    if (typeof cur !== 'object' || cur === null) return '';
    cur = (cur as Obj)[part];
  }
  if (cur === undefined || cur === null) return '';
  return typeof cur === 'string' ? cur : String(cur);
}
