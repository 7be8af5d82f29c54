import { describe, expect, it } from 'vitest';
import type { Condition } from '../model.ts';
import type { KubeObject } from '../snapshot.ts';
import { readIngressAnnotations } from './ingress-annotations.ts';
import { readAnnotation } from './read-annotation.ts';
import { readSslRedirect } from './ssl-redirect.ts';

function ing(annotations: Record<string, unknown> = {}): KubeObject {
  return { apiVersion: 'networking.k8s.io/v1', kind: 'Ingress', metadata: { name: 'web', namespace: 'shop', annotations } };
}

describe('readAnnotation', () => {
  it('reads gatehouse.io/ first, then nginx.ingress.kubernetes.io/', () => {
    expect(readAnnotation(ing({ 'nginx.ingress.kubernetes.io/x': 'n' }).metadata, 'x')).toEqual({ key: 'nginx.ingress.kubernetes.io/x', value: 'n' });
    expect(readAnnotation(ing({ 'nginx.ingress.kubernetes.io/x': 'n', 'gatehouse.io/x': 'g' }).metadata, 'x')).toEqual({ key: 'gatehouse.io/x', value: 'g' });
    expect(readAnnotation(ing({ 'example.com/x': 'e' }).metadata, 'x')).toBeUndefined();
  });

  it('shows a value that is not a string as JSON, for the grammar to refuse', () => {
    expect(readAnnotation(ing({ 'gatehouse.io/x': true }).metadata, 'x')).toEqual({ key: 'gatehouse.io/x', value: 'true' });
  });
});

describe('ssl-redirect family', () => {
  const defaults = { sslRedirect: true };

  it('defaults: ssl-redirect from --default-ssl-redirect, force-ssl-redirect false', () => {
    expect(readSslRedirect(ing(), defaults)).toEqual({ ok: true, value: { sslRedirect: true, forceSslRedirect: false } });
    expect(readSslRedirect(ing(), { sslRedirect: false })).toEqual({ ok: true, value: { sslRedirect: false, forceSslRedirect: false } });
  });

  it.each([
    ['true', true], ['True', true], ['TRUE', true], ['t', true], ['T', true], ['1', true],
    ['false', false], ['False', false], ['FALSE', false], ['f', false], ['F', false], ['0', false],
  ])('accepts %j as Go strconv.ParseBool does', (value, want) => {
    const r = readSslRedirect(ing({ 'nginx.ingress.kubernetes.io/force-ssl-redirect': value }), defaults);
    expect(r).toEqual({ ok: true, value: { sslRedirect: true, forceSslRedirect: want } });
  });

  it.each(['yes', 'on', '', ' true', 'tRuE', '2'])('refuses %j, naming the annotation', (value) => {
    const r = readSslRedirect(ing({ 'nginx.ingress.kubernetes.io/ssl-redirect': value }), defaults);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.problems).toEqual([{ key: 'nginx.ingress.kubernetes.io/ssl-redirect', message: expect.stringContaining('nginx.ingress.kubernetes.io/ssl-redirect') }]);
  });

  it('turns problems into GH_ANNOTATION_INVALID conditions and leaves the Ingress out', () => {
    const conditions: Condition[] = [];
    expect(readIngressAnnotations(ing({ 'gatehouse.io/ssl-redirect': 'nope' }), defaults, conditions)).toBeNull();
    expect(conditions).toEqual([
      { ref: { kind: 'Ingress', namespace: 'shop', name: 'web' }, code: 'GH_ANNOTATION_INVALID', field: 'metadata.annotations["gatehouse.io/ssl-redirect"]', message: expect.stringMatching(/"nope" is not a boolean.*left out/) },
    ]);
    expect(readIngressAnnotations(ing({ 'gatehouse.io/ssl-redirect': 'false' }), defaults, conditions)).toMatchObject({ sslRedirect: { sslRedirect: false, forceSslRedirect: false } });
  });
});
