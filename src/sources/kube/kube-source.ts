// Kubernetes mode: informers for Ingress, IngressClass, Service, EndpointSlice and TLS
// Secrets feed the snapshot, and one for the --configmap ConfigMap by name (in its namespace,
// whatever --watch-namespace says, as ingress-nginx). Nothing is reported synced before every
// informer has listed once; while the API server is unreachable, nothing changes and the last
// table keeps serving. Secret data is never logged. Objects that compile names (annotation
// Secrets, the ConfigMaps of add-headers, proxy-set-headers and custom-headers) are watched one
// by one, by name.

import type { KubernetesObject } from '@kubernetes/client-node';
import { toKubeObject, type Snapshot } from '../../core/snapshot.ts';
import type { Kind } from '../../core/model.ts';
import type { Log, Source, SourceSink } from '../source.ts';
import { Informer, type ResourceSpec } from './informer.ts';
import type { KubeHttp } from './kube-http.ts';

export const RESOURCES: readonly (ResourceSpec & { kind: Kind })[] = [
  { kind: 'Ingress', apiVersion: 'networking.k8s.io/v1', plural: 'ingresses', namespaced: true },
  { kind: 'IngressClass', apiVersion: 'networking.k8s.io/v1', plural: 'ingressclasses', namespaced: false },
  { kind: 'Service', apiVersion: 'v1', plural: 'services', namespaced: true },
  // Only slices that belong to a Service (the label the EndpointSlice controller sets).
  { kind: 'EndpointSlice', apiVersion: 'discovery.k8s.io/v1', plural: 'endpointslices', namespaced: true, labelSelector: 'kubernetes.io/service-name' },
  // Only TLS Secrets: the controller has no business reading any other.
  { kind: 'Secret', apiVersion: 'v1', plural: 'secrets', namespaced: true, fieldSelector: 'type=kubernetes.io/tls' },
];

export interface KubeSourceOptions {
  http: KubeHttp;
  /** Watch one namespace only; null: all. */
  namespace: string | null;
  /** `namespace/name` of the --configmap ConfigMap, or null. */
  configMap?: string | null;
  log: Log;
}

export function byNameSpec(kind: 'Secret' | 'ConfigMap', name: string): ResourceSpec & { kind: Kind } {
  return { kind, apiVersion: 'v1', plural: kind === 'Secret' ? 'secrets' : 'configmaps', namespaced: true, fieldSelector: `metadata.name=${name}` };
}

export class KubeSource implements Source {
  private readonly options: KubeSourceOptions;
  private informers: Informer[] = [];
  private closing: Promise<void> | null = null;
  private sink: SourceSink | null = null;
  /** Objects compile names, watched one by one, by `Kind/namespace/name`. */
  private readonly byName = new Map<string, Informer>();

  constructor(options: KubeSourceOptions) {
    this.options = options;
  }

  private informer(spec: ResourceSpec & { kind: Kind }, namespace: string | null, sink: SourceSink): Informer {
    const { http, log } = this.options;
    const ref = (o: KubernetesObject) => ({ kind: spec.kind, namespace: o.metadata?.namespace ?? '', name: o.metadata?.name ?? '' });
    return new Informer(http, spec, namespace, {
      upsert: (o) => {
        const checked = toKubeObject(o);
        if (checked.ok) sink.upsert(checked.object);
        else if (!checked.ignored) log.warn({ object: ref(o), code: 'GH_OBJECT_INVALID' }, `object left out: ${checked.reason}`);
      },
      remove: (o) => {
        const r = ref(o);
        sink.remove(spec.kind, spec.namespaced ? r.namespace || 'default' : '', r.name);
      },
    }, log);
  }

  async start(sink: SourceSink): Promise<void> {
    const { namespace, log } = this.options;
    this.sink = sink;
    this.informers = RESOURCES.map((spec) => this.informer(spec, namespace, sink));
    const configMap = this.options.configMap ?? null;
    if (configMap !== null) {
      const [ns = '', name = ''] = configMap.split('/');
      this.informers.push(this.informer(byNameSpec('ConfigMap', name), ns, sink));
    }
    await Promise.all(this.informers.map((i) => i.start()));
    log.info({ resources: RESOURCES.map((r) => r.plural), namespace: namespace ?? '(all)' }, 'informers synced');
    sink.synced();
  }

  /**
   * Watch exactly these Secrets by name, whatever their type (proxy-ssl-secret is often
   * Opaque; the type-filtered informer would never see it). Informers for names no longer
   * listed stop; a Secret they delivered that is not kubernetes.io/tls leaves the snapshot.
   */
  watchSecrets(refs: readonly string[], snapshot: Pick<Snapshot, 'get'>): void {
    const inNamespace = refs.filter((r) => this.options.namespace === null || r.startsWith(`${this.options.namespace}/`));
    this.watchByName('Secret', inNamespace, (ns, name) => snapshot.get('Secret', ns, name)?.type !== 'kubernetes.io/tls');
  }

  /**
   * Watch exactly these ConfigMaps by name (add-headers, proxy-set-headers: settings of the
   * operator, so in any namespace; custom-headers: in its Ingress's namespace); one no longer
   * listed leaves the snapshot, unless it is the --configmap one.
   */
  watchConfigMaps(refs: readonly string[]): void {
    const main = this.options.configMap ?? null;
    this.watchByName('ConfigMap', refs.filter((r) => r !== main), () => true);
  }

  /** One informer per wanted `namespace/name`; `leaves(ns, name)`: whether an object whose informer stops goes from the snapshot. */
  private watchByName(kind: 'Secret' | 'ConfigMap', refs: readonly string[], leaves: (ns: string, name: string) => boolean): void {
    const sink = this.sink;
    if (sink === null || this.closing !== null) return;
    const wanted = new Set(refs.map((r) => `${kind}/${r}`));
    for (const [key, informer] of this.byName) {
      if (!key.startsWith(`${kind}/`) || wanted.has(key)) continue;
      this.byName.delete(key);
      void informer.stop();
      const [, ns = '', name = ''] = key.split('/');
      if (leaves(ns, name)) sink.remove(kind, ns, name);
    }
    for (const key of wanted) {
      if (this.byName.has(key)) continue;
      const [, ns = '', name = ''] = key.split('/');
      const informer = this.informer(byNameSpec(kind, name), ns, sink);
      this.byName.set(key, informer);
      void informer.start();
    }
  }

  close(): Promise<void> {
    this.closing ??= Promise.all([...this.informers, ...this.byName.values()].map((i) => i.stop())).then(() => undefined);
    return this.closing;
  }
}
