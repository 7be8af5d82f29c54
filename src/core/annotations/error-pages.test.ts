import { describe, expect, it } from 'vitest';
import { annotated, expectRefused, fuzzAnnotation } from '../../../test/support/annotation-fuzz.ts';
import { parseStatusList, readErrorPages, routeErrorPages } from './error-pages.ts';

const CODES = 'nginx.ingress.kubernetes.io/custom-http-errors';
const BACKEND = 'nginx.ingress.kubernetes.io/default-backend';

describe('custom-http-errors and default-backend', () => {
  it('reads neither as no policy, and the ConfigMap codes as the default', () => {
    expect(readErrorPages(annotated({}))).toEqual({ ok: true, value: undefined });
    expect(readErrorPages(annotated({}), [404])).toEqual({ ok: true, value: { codes: [404], defaultBackend: null } });
  });

  it.each([
    ['404', [404]], ['404,500', [404, 500]], ['503, 404 ,404', [404, 503]], ['599,400', [400, 599]], ['404,', [404]], [' 502 ', [502]],
  ])('reads %j as the sorted codes %j, replacing the ConfigMap list', (value, codes) => {
    expect(readErrorPages(annotated({ [CODES]: value }), [302, 418])).toEqual({ ok: true, value: { codes, defaultBackend: null } });
  });

  it.each(['', ',', '399', '600', '4O4', '404;500', '404 500', '1404', '40', '-404', 'all'])('refuses custom-http-errors %j', (value) => {
    expectRefused(readErrorPages(annotated({ [CODES]: value })), CODES, value, 'is not a comma-separated list of HTTP status codes 400-599');
  });

  it('takes 300-599 in the ConfigMap list (ingress-nginx filterErrors), 400-599 in the annotation', () => {
    expect(parseStatusList('302,404', 300)).toEqual([302, 404]);
    expect(parseStatusList('302,404', 400)).toBeNull();
    expect(parseStatusList('299', 300)).toBeNull();
  });

  it.each(['pages', 'error-pages', 'a', 'a1'])('reads default-backend %j as a Service name', (value) => {
    expect(readErrorPages(annotated({ [BACKEND]: value }))).toEqual({ ok: true, value: { codes: [], defaultBackend: value } });
  });

  it.each(['', 'Pages', '1pages', 'ns/pages', 'pages.ns', 'pages-', `a${'b'.repeat(63)}`, 'pages:80'])('refuses default-backend %j', (value) => {
    expectRefused(readErrorPages(annotated({ [BACKEND]: value })), BACKEND, value, 'is not a Service name');
  });

  it('reads gatehouse.io/ over the nginx prefix', () => {
    expect(readErrorPages(annotated({ [CODES]: '404', 'gatehouse.io/custom-http-errors': '503', [BACKEND]: 'x', 'gatehouse.io/default-backend': 'y' }))).toEqual({ ok: true, value: { codes: [503], defaultBackend: 'y' } });
  });

  it('fills in a route: the Ingress, its fallback backend and the Service port as written', () => {
    expect(routeErrorPages({ codes: [503], defaultBackend: 'pages' }, 'shop/web', 'shop/pages:80', 'web', 'http')).toEqual({ codes: [503], backend: 'shop/pages:80', namespace: 'shop', ingress: 'web', service: 'web', servicePort: 'http' });
  });

  it('never throws on random values, and yields no control characters (fast-check)', () => {
    fuzzAnnotation([CODES, BACKEND], (ing) => readErrorPages(ing));
  });
});
