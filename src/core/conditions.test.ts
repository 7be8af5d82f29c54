import { describe, expect, it } from 'vitest';
import { compile } from './compile.ts';
import { printableConditions } from './conditions.ts';
import type { Condition } from './model.ts';
import { Snapshot, toKubeObject } from './snapshot.ts';

function condition(field: string, message: string): Condition {
  return { ref: { kind: 'Ingress', namespace: 'shop', name: 'web' }, code: 'GH_ANNOTATION_INVALID', field, message };
}

describe('printableConditions', () => {
  it('writes DEL and C1 control characters as \\uXXXX escapes, leaving the rest as it was', () => {
    const clean = condition('spec', 'a "quoted" value');
    const list = printableConditions([condition('metadata.annotations["a\u007f"]', 'value "\u007f\u0085\u009f" is bad'), clean]);
    expect(list[0]).toEqual(condition('metadata.annotations["a\\u007f"]', 'value "\\u007f\\u0085\\u009f" is bad'));
    expect(list[1]).toBe(clean);
  });

  it('is applied to every condition compile returns', () => {
    const snapshot = new Snapshot();
    for (const o of [
      { apiVersion: 'networking.k8s.io/v1', kind: 'IngressClass', metadata: { name: 'gatehouse' }, spec: { controller: 'gatehouse.io/ingress-controller' } },
      { apiVersion: 'networking.k8s.io/v1', kind: 'Ingress', metadata: { name: 'web', namespace: 'shop', annotations: { 'nginx.ingress.kubernetes.io/cors-max-age': '1\u007f' } }, spec: { ingressClassName: 'gatehouse' } },
    ]) {
      const checked = toKubeObject(o);
      if (!checked.ok) throw new Error(checked.reason);
      snapshot.upsert(checked.object);
    }
    const { conditions } = compile(snapshot, { controllerClass: 'gatehouse.io/ingress-controller', ingressClass: 'gatehouse', watchIngressWithoutClass: false, defaultBackendService: null }, 1);
    expect(conditions.map((c) => c.code)).toEqual(['GH_ANNOTATION_INVALID']);
    expect(conditions[0]!.message).toContain('\\u007f');
    // eslint-disable-next-line no-control-regex -- control characters are what must not be there
    expect(conditions[0]!.message).not.toMatch(/[\u0000-\u001f\u007f-\u009f]/);
  });
});
