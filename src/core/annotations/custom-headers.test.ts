import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { annotated, annotationValue, fuzzAnnotation } from '../../../test/support/annotation-fuzz.ts';
import { compile } from '../compile.ts';
import { printable } from '../conditions.ts';
import type { Condition } from '../model.ts';
import { Snapshot, toKubeObject, type KubeObject } from '../snapshot.ts';
import { readCustomHeaders, readCustomHeadersRef, type CustomHeadersContext } from './custom-headers.ts';
import { readIngressAnnotations } from './ingress-annotations.ts';

const N = 'nginx.ingress.kubernetes.io/custom-headers';
const G = 'gatehouse.io/custom-headers';

/** ConfigMaps by `namespace/name` → data. */
function context(configMaps: Record<string, unknown>, allowed: readonly string[] = ['x-frame-options', 'my-custom-header', 'content-type']): CustomHeadersContext {
  return {
    configMap: (ns, name) => (Object.hasOwn(configMaps, `${ns}/${name}`) ? ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { namespace: ns, name }, data: configMaps[`${ns}/${name}`] } as KubeObject) : undefined),
    allowed,
  };
}

describe('custom-headers: the value', () => {
  it('is absent when not set', () => {
    expect(readCustomHeadersRef(annotated({}))).toEqual({ ok: true, value: undefined });
  });

  it.each([
    ['shop/custom-headers', 'custom-headers'],
    ['custom-headers', 'custom-headers'],
    [' shop/headers.v1 ', 'headers.v1'],
  ])('takes namespace/name (as ingress-nginx documents it) or a bare name in the Ingress\'s namespace: %j', (value, name) => {
    expect(readCustomHeadersRef(annotated({ [N]: value }))).toEqual({ ok: true, value: { key: N, namespace: 'shop', name } });
  });

  it('reads gatehouse.io/ over nginx.ingress.kubernetes.io/', () => {
    expect(readCustomHeadersRef(annotated({ [N]: 'a', [G]: 'b' }))).toEqual({ ok: true, value: { key: G, namespace: 'shop', name: 'b' } });
  });

  it.each([
    ['', /"" is not a ConfigMap \(expected "namespace\/name", or "name" in the Ingress's namespace\)/],
    ['Shop/Headers', /is not a ConfigMap/],
    ['a/b/c', /is not a ConfigMap/],
    ['shop/', /is not a ConfigMap/],
    ['-bad', /is not a ConfigMap/],
    ['shop/x\nInjected: 1', /"shop\/x\\nInjected: 1" is not a ConfigMap/],
    ['other/headers', /ConfigMap other\/headers is in another namespace; only ConfigMaps of the Ingress's namespace \(shop\) are allowed/],
  ])('refuses %j, naming the annotation and the value (GH_ANNOTATION_INVALID)', (value, message) => {
    const r = readCustomHeadersRef(annotated({ [N]: value }));
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.problems).toHaveLength(1);
      expect(r.problems[0]!.key).toBe(N);
      expect(r.problems[0]!.code).toBeUndefined();
      expect(r.problems[0]!.message).toMatch(new RegExp(`^${N}: `));
      expect(r.problems[0]!.message).toMatch(message);
    }
  });
});

describe('custom-headers: the ConfigMap', () => {
  it('yields its data as response headers, names lower case, sorted; a $ is literal, as ingress-nginx escapes it', () => {
    const r = readCustomHeaders(annotated({ [N]: 'shop/h' }), context({ 'shop/h': { 'X-Frame-Options': 'DENY', 'My-Custom-Header': '$remote_addr' } }));
    expect(r).toEqual({ ok: true, value: [['my-custom-header', '$remote_addr'], ['x-frame-options', 'DENY']] });
  });

  it('an empty ConfigMap sets nothing (ingress-nginx\'s test too)', () => {
    expect(readCustomHeaders(annotated({ [N]: 'h' }), context({ 'shop/h': {} }))).toEqual({ ok: true, value: [] });
    expect(readCustomHeaders(annotated({ [N]: 'h' }), context({ 'shop/h': undefined }))).toEqual({ ok: true, value: [] });
  });

  it('names are allowed case-insensitively', () => {
    expect(readCustomHeaders(annotated({ [N]: 'h' }), context({ 'shop/h': { 'CONTENT-TYPE': 'application/json' } }))).toEqual({ ok: true, value: [['content-type', 'application/json']] });
  });

  it.each([
    ['a missing ConfigMap', {}, [], `${N}: ConfigMap shop/h does not exist`],
    ['a name not allowed', { 'shop/h': { 'X-Frame-Options': 'DENY', 'X-Secret': '1', 'X-Other': '2' } }, ['x-frame-options'], `${N}: ConfigMap shop/h sets "x-other", "x-secret", which the --configmap ConfigMap's global-allowed-response-headers does not list (it lists x-frame-options)`],
    ['any name, with nothing allowed (the default)', { 'shop/h': { 'X-Frame-Options': 'DENY' } }, [], `${N}: ConfigMap shop/h sets "x-frame-options", which the --configmap ConfigMap's global-allowed-response-headers does not list (it lists none)`],
    ['a header Gatehouse may not set', { 'shop/h': { 'Transfer-Encoding': 'chunked' } }, ['transfer-encoding'], `${N}: ConfigMap shop/h header "Transfer-Encoding" belongs to the connection or its framing`],
    ['an empty value', { 'shop/h': { 'X-Frame-Options': '' } }, ['x-frame-options'], `${N}: ConfigMap shop/h header "X-Frame-Options" has an empty value (clearing a response header is not supported)`],
    ['a value with CR LF', { 'shop/h': { 'X-Frame-Options': 'a\r\nSet-Cookie: x' } }, ['x-frame-options'], `${N}: ConfigMap shop/h header "X-Frame-Options" has a value that is not printable ASCII and tabs of at most 4096 characters`],
    ['data that is not a mapping', { 'shop/h': ['a'] }, [], `${N}: ConfigMap shop/h data is not a mapping; no headers are set`],
  ])('refuses %s with GH_CUSTOM_HEADERS_REFUSED naming the annotation, the ConfigMap and the header', (_, configMaps, allowed, message) => {
    const r = readCustomHeaders(annotated({ [N]: 'shop/h' }), context(configMaps, allowed));
    expect(r).toEqual({ ok: false, problems: [{ key: N, code: 'GH_CUSTOM_HEADERS_REFUSED', message }] });
  });

  it('never throws on random values and ConfigMap data, and nothing it yields carries a control character', () => {
    fuzzAnnotation([N, G], (ing) => readCustomHeaders(ing, context({ 'shop/h': { 'X-Frame-Options': 'DENY' } })));
    fc.assert(fc.property(fc.dictionary(annotationValue, fc.oneof(annotationValue, fc.integer(), fc.constant(null))), (data) => {
      const r = readCustomHeaders(annotated({ [N]: 'h' }), context({ 'shop/h': data }, Object.keys(data).map((k) => k.toLowerCase())));
      const texts = r.ok ? (r.value ?? []).flat() : r.problems.map((p) => printable(p.message)); // as conditions carry it
      for (const t of texts) expect([...t].some((c) => (c < ' ' && c !== '\t') || c === '\x7f'), JSON.stringify(t)).toBe(false);
    }), { numRuns: 1000 });
  });
});

describe('custom-headers in the Ingress\'s policy', () => {
  const read = (annotations: Record<string, string>, ctx = context({ 'shop/h': { 'X-Frame-Options': 'DENY', 'My-Custom-Header': '42' } })) => {
    const conditions: Condition[] = [];
    const policy = readIngressAnnotations(annotated(annotations), { sslRedirect: true, customHeaders: ctx }, conditions);
    return { policy, conditions };
  };

  it('are response headers of the routes; gatehouse.io/response-headers wins for the same name, request headers stay', () => {
    expect(read({ [N]: 'h' }).policy?.policies.headers).toEqual({ response: [['my-custom-header', '42'], ['x-frame-options', 'DENY']] });
    expect(read({ [N]: 'h', 'gatehouse.io/response-headers': 'X-Frame-Options: SAMEORIGIN\nX-Own: 1', 'gatehouse.io/request-headers': 'X-Team: a' }).policy?.policies.headers).toEqual({
      request: [['X-Team', 'a']],
      response: [['X-Frame-Options', 'SAMEORIGIN'], ['X-Own', '1'], ['my-custom-header', '42']],
    });
  });

  it('a refused ConfigMap leaves the Ingress out with GH_CUSTOM_HEADERS_REFUSED on the annotation; a bad value with GH_ANNOTATION_INVALID', () => {
    const missing = read({ [N]: 'gone' });
    expect(missing.policy).toBeNull();
    expect(missing.conditions).toEqual([{ ref: { kind: 'Ingress', namespace: 'shop', name: 'web' }, code: 'GH_CUSTOM_HEADERS_REFUSED', field: `metadata.annotations[${JSON.stringify(N)}]`, message: `${N}: ConfigMap shop/gone does not exist; the Ingress is left out` }]);
    expect(read({ [N]: 'other/h' }).conditions.map((c) => c.code)).toEqual(['GH_ANNOTATION_INVALID']);
    // Without a context (no ConfigMaps known) it is refused as missing.
    const conditions: Condition[] = [];
    expect(readIngressAnnotations(annotated({ [N]: 'h' }), { sslRedirect: true }, conditions)).toBeNull();
    expect(conditions[0]?.code).toBe('GH_CUSTOM_HEADERS_REFUSED');
  });
});

describe('custom-headers in compile', () => {
  it('lists every ConfigMap custom-headers names, missing ones too, with the --configmap ones, for Kubernetes mode to watch by name', () => {
    const snapshot = new Snapshot();
    const objects = [
      { apiVersion: 'networking.k8s.io/v1', kind: 'IngressClass', metadata: { name: 'gatehouse' }, spec: { controller: 'gatehouse.io/ingress-controller' } },
      { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'gatehouse', namespace: 'gatehouse' }, data: { 'add-headers': 'gatehouse/resp' } },
      ...[['a', 'shop/h'], ['b', 'gone'], ['c', 'other/x']].map(([name, value]) => ({
        apiVersion: 'networking.k8s.io/v1', kind: 'Ingress', metadata: { name, namespace: 'shop', annotations: { [N]: value } }, spec: { ingressClassName: 'gatehouse' },
      })),
    ];
    for (const o of objects) {
      const checked = toKubeObject(o);
      if (!checked.ok) throw new Error(checked.reason);
      snapshot.upsert(checked.object);
    }
    const result = compile(snapshot, { controllerClass: 'gatehouse.io/ingress-controller', ingressClass: 'gatehouse', watchIngressWithoutClass: false, defaultBackendService: null, configMap: 'gatehouse/gatehouse' }, 1);
    expect(result.configMaps).toEqual(['gatehouse/resp', 'shop/gone', 'shop/h']);
  });
});
