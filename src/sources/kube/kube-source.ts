// Kubernetes mode: informers for Ingress, IngressClass, Service, EndpointSlice and TLS
// Secrets feed the snapshot. Nothing is reported synced before every informer has listed
// once; while the API server is unreachable, nothing changes and the last table keeps
// serving. Secret data is never logged.

import type { KubernetesObject } from '@kubernetes/client-node';
import { toKubeObject } from '../../core/snapshot.ts';
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
  log: Log;
}

export class KubeSource implements Source {
  private readonly options: KubeSourceOptions;
  private informers: Informer[] = [];
  private closing: Promise<void> | null = null;

  constructor(options: KubeSourceOptions) {
    this.options = options;
  }

  async start(sink: SourceSink): Promise<void> {
    const { http, namespace, log } = this.options;
    this.informers = RESOURCES.map((spec) => {
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
    });
    await Promise.all(this.informers.map((i) => i.start()));
    log.info({ resources: RESOURCES.map((r) => r.plural), namespace: namespace ?? '(all)' }, 'informers synced');
    sink.synced();
  }

  close(): Promise<void> {
    this.closing ??= Promise.all(this.informers.map((i) => i.stop())).then(() => undefined);
    return this.closing;
  }
}
