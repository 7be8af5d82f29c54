// Which Ingresses are ours (DESIGN.md "Class"; Kubernetes docs, "Ingress class" and the
// deprecated kubernetes.io/ingress.class annotation; ingress-nginx --watch-ingress-without-class).

import type { CompileOptions } from '../model.ts';
import type { KubeObject, Snapshot } from '../snapshot.ts';
import { annotation, rec, str } from './fields.ts';

export const LEGACY_CLASS_ANNOTATION = 'kubernetes.io/ingress.class';
export const DEFAULT_CLASS_ANNOTATION = 'ingressclass.kubernetes.io/is-default-class';

/** Whether an Ingress is ours, under the snapshot's IngressClasses and `options`. */
export function ownership(snapshot: Snapshot, options: CompileOptions): (ing: KubeObject) => boolean {
  const ourClasses = new Set<string>();
  let weAreDefault = false;
  for (const cls of snapshot.list('IngressClass')) {
    if (str(rec(cls.spec).controller) !== options.controllerClass) continue;
    ourClasses.add(cls.metadata.name);
    if (annotation(cls.metadata, DEFAULT_CLASS_ANNOTATION) === 'true') weAreDefault = true;
  }
  return (ing) => {
    const className = str(rec(ing.spec).ingressClassName);
    if (className !== undefined && className !== '') return ourClasses.has(className);
    const legacy = annotation(ing.metadata, LEGACY_CLASS_ANNOTATION);
    if (legacy !== undefined && legacy !== '') return legacy === options.ingressClass;
    return weAreDefault || options.watchIngressWithoutClass;
  };
}
