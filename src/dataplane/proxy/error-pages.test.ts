import { describe, expect, it } from 'vitest';
import type { ErrorPagesPolicy } from '../../core/model.ts';
import { errorPageHeaders, errorPageTarget, withErrorPageHeaders } from './error-pages.ts';
import type { ProxyRequest } from './proxy.ts';
import { requestId } from './request-id.ts';

const POLICY: ErrorPagesPolicy = { codes: [503], backend: null, namespace: 'shop', ingress: 'web', service: 'web', servicePort: 'http' };
const req = (url: string, headers: Record<string, string>) => ({ url, headers }) as unknown as ProxyRequest;

describe('error pages', () => {
  it('sends `/` and the client\'s query string (ingress-nginx: rewrite (.*) / break)', () => {
    expect(errorPageTarget('/a/b')).toBe('/');
    expect(errorPageTarget('/a/b?x=1&y')).toBe('/?x=1&y');
    expect(errorPageTarget(undefined)).toBe('/');
  });

  it('sets ingress-nginx\'s X-* headers, the empty ones left out, X-Original-URI only for error pages', () => {
    expect(errorPageHeaders(POLICY, req('/p?q', { accept: 'text/html', 'x-request-id': 'id-1' }), 503, true)).toEqual([
      'x-code', '503', 'x-format', 'text/html', 'x-original-uri', '/p?q', 'x-namespace', 'shop', 'x-ingress-name', 'web', 'x-service-name', 'web', 'x-service-port', 'http', 'x-request-id', 'id-1',
    ]);
    const fallback = errorPageHeaders({ ...POLICY, service: '', servicePort: '' }, req('/p', {}), 503, false);
    expect(fallback.filter((_, i) => i % 2 === 0)).toEqual(['x-code', 'x-namespace', 'x-ingress-name', 'x-request-id']);
  });

  it('replaces the client\'s own X-Code … X-Request-ID, and drops Content-Length for a body not sent again', () => {
    const flat = ['Host', 'a.test', 'X-Code', '999', 'x-request-id', 'mine', 'Content-Length', '5', 'Accept', '*/*'];
    expect(withErrorPageHeaders(flat, ['x-code', '503'], false)).toEqual(['Host', 'a.test', 'Content-Length', '5', 'Accept', '*/*', 'x-code', '503']);
    expect(withErrorPageHeaders(flat, ['x-code', '503'], true)).toEqual(['Host', 'a.test', 'Accept', '*/*', 'x-code', '503']);
  });

  it('X-Request-ID: the client\'s (the first of several), else 32 new hex digits', () => {
    expect(requestId('abc')).toBe('abc');
    expect(requestId(['a', 'b'])).toBe('a');
    expect(requestId(undefined)).toMatch(/^[0-9a-f]{32}$/);
    expect(requestId('')).toMatch(/^[0-9a-f]{32}$/);
    expect(requestId(undefined)).not.toBe(requestId(undefined));
  });
});
