// Kubernetes mode, read once (`gatehouse check` against a cluster): the same resources, selectors
// and object checks as the informers (kube-source.ts), each listed with one GET and never
// watched; and the objects compile names (annotation Secrets, header ConfigMaps) fetched by name,
// as KubeSource.watchSecrets/watchConfigMaps watch them. Read-only: nothing is written.

import type { KubernetesListObject, KubernetesObject } from '@kubernetes/client-node';
import { toKubeObject, type KubeObject } from '../../core/snapshot.ts';
import { resourcePath, type ResourceSpec } from './informer.ts';
import type { KubeHttp } from './kube-http.ts';
import { byNameSpec, RESOURCES } from './kube-source.ts';

/** An object the API server returned that Gatehouse leaves out (GH_OBJECT_INVALID), by reference and reason. */
export interface ListedProblem {
  readonly ref: string;
  readonly reason: string;
}

export interface Listed {
  readonly objects: KubeObject[];
  readonly problems: ListedProblem[];
}

async function list(http: KubeHttp, spec: ResourceSpec, namespace: string | null, into: Listed): Promise<void> {
  const body = await http.request<KubernetesListObject<KubernetesObject>>('GET', resourcePath(spec, namespace), {
    query: { labelSelector: spec.labelSelector, fieldSelector: spec.fieldSelector },
  });
  for (const item of body?.items ?? []) {
    // The API server leaves kind and apiVersion off list items; put them back (as the informers do).
    const checked = toKubeObject({ ...item, apiVersion: spec.apiVersion, kind: spec.kind });
    if (checked.ok) into.objects.push(checked.object);
    else if (!checked.ignored) into.problems.push({ ref: `${spec.kind} ${item.metadata?.namespace ?? ''}/${item.metadata?.name ?? ''}`, reason: checked.reason });
  }
}

/** Everything the informers list: one GET per resource, and the --configmap ConfigMap by name. */
export async function listObjects(http: KubeHttp, options: { namespace: string | null; configMap: string | null }): Promise<Listed> {
  const into: Listed = { objects: [], problems: [] };
  await Promise.all(RESOURCES.map((spec) => list(http, spec, options.namespace, into)));
  if (options.configMap !== null) await listByName(http, 'ConfigMap', [options.configMap], null, into);
  return into;
}

/** The objects `refs` (`namespace/name`) name, whatever their type, in `namespace` only when it is set. */
export async function listByName(http: KubeHttp, kind: 'Secret' | 'ConfigMap', refs: readonly string[], namespace: string | null, into: Listed): Promise<void> {
  const wanted = refs.filter((r) => namespace === null || r.startsWith(`${namespace}/`));
  await Promise.all(wanted.map((ref) => {
    const [ns = '', name = ''] = ref.split('/');
    return list(http, byNameSpec(kind, name), ns, into);
  }));
}
