import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Condition } from '../model.ts';
import type { KubeObject } from '../snapshot.ts';
import { readIngressAnnotations } from './ingress-annotations.ts';
import { parseTemplate, readRewrite, routeRewrite, wantsRegexMode } from './rewrite.ts';

function ing(annotations: Record<string, unknown> = {}): KubeObject {
  return { apiVersion: 'networking.k8s.io/v1', kind: 'Ingress', metadata: { name: 'web', namespace: 'shop', annotations } };
}
const NGINX = 'nginx.ingress.kubernetes.io/';

function problems(annotations: Record<string, unknown>): { key: string; message: string }[] {
  const r = readRewrite(ing(annotations));
  return r.ok ? [] : [...r.problems];
}

describe('rewrite family', () => {
  it('sets nothing by default', () => {
    expect(readRewrite(ing())).toEqual({ ok: true, value: { useRegex: false } });
  });

  it.each(['/', '/$1', '/new/$2/x', '$1', '/a-b.c_d~e:f/', '/$1$2', '/v2/$9', '/$10'])('takes rewrite-target %j', (value) => {
    expect(readRewrite(ing({ [`${NGINX}rewrite-target`]: value }))).toEqual({ ok: true, value: { useRegex: false, rewrite: { target: value } } });
  });

  it.each([
    '/a?b=1', '/a b', ' /a', '/$0', '/$', '/$host', '/${1}', '/%41', 'http://example.com/', 'new/$1', '/a#b', '/a\nb', '/a;b',
  ])('refuses rewrite-target %j, naming the annotation, the value and what it takes', (value) => {
    expect(problems({ [`gatehouse.io/rewrite-target`]: value })).toEqual([
      { key: 'gatehouse.io/rewrite-target', message: `gatehouse.io/rewrite-target: ${JSON.stringify(value)} is not a path starting with "/" or a group, of letters, digits, "-._~/:" and capture groups $1 to $9` },
    ]);
  });

  it('refuses a rewrite-target longer than 2048 characters', () => {
    expect(problems({ [`${NGINX}rewrite-target`]: `/${'a'.repeat(2048)}` })).toHaveLength(1);
    expect(problems({ [`${NGINX}rewrite-target`]: `/${'a'.repeat(2047)}` })).toHaveLength(0);
  });

  it('reads an empty value as none (ingress-nginx drops empty strings)', () => {
    expect(readRewrite(ing({ [`${NGINX}rewrite-target`]: '', [`${NGINX}x-forwarded-prefix`]: ' ', [`${NGINX}upstream-vhost`]: '' }))).toEqual({ ok: true, value: { useRegex: false } });
  });

  it('prefers gatehouse.io/ over nginx.ingress.kubernetes.io/', () => {
    const r = readRewrite(ing({ 'gatehouse.io/rewrite-target': '/ours', [`${NGINX}rewrite-target`]: 'not valid?' }));
    expect(r).toEqual({ ok: true, value: { useRegex: false, rewrite: { target: '/ours' } } });
  });

  it.each([
    ['true', true], ['True', true], ['1', true], ['t', true], ['false', false], ['0', false], ['F', false],
  ])('reads use-regex %j as %s', (value, want) => {
    expect(readRewrite(ing({ [`${NGINX}use-regex`]: value }))).toEqual({ ok: true, value: { useRegex: want } });
  });

  it.each(['yes', 'on', '', ' true'])('refuses use-regex %j', (value) => {
    expect(problems({ [`${NGINX}use-regex`]: value })).toEqual([{ key: `${NGINX}use-regex`, message: `${NGINX}use-regex: ${JSON.stringify(value)} is not a boolean ("true" or "false")` }]);
  });

  it.each([
    ['/path', '/path'], [' /api/v1 ', '/api/v1'], ['/$1', '/$1'], ['prefix', 'prefix'],
  ])('takes x-forwarded-prefix %j as %j', (value, want) => {
    expect(readRewrite(ing({ [`${NGINX}x-forwarded-prefix`]: value }))).toEqual({ ok: true, value: { useRegex: false, rewrite: { xForwardedPrefix: want } } });
  });

  it.each(['/a b', '/a\r\nX-Evil: 1', '/$host', '/%2F', '/a,b'])('refuses x-forwarded-prefix %j', (value) => {
    expect(problems({ [`${NGINX}x-forwarded-prefix`]: value })[0]!.message).toBe(
      `${NGINX}x-forwarded-prefix: ${JSON.stringify(value)} is not a path of letters, digits, "-._~/:" and capture groups $1 to $9`,
    );
  });

  it.each([
    'upstream.example.com', 'api.shop.svc.cluster.local', 'internal:8080', '10.0.0.1', '[::1]:8443', '[2001:db8::1]', 'under_score.local', ' padded.example ', 'a',
  ])('takes upstream-vhost %j', (value) => {
    expect(readRewrite(ing({ [`${NGINX}upstream-vhost`]: value }))).toEqual({ ok: true, value: { useRegex: false, rewrite: { upstreamVhost: value.trim() } } });
  });

  it.each(['$host', '$service_name.$namespace.svc', 'a b', 'host:99999', 'host:', 'http://x', 'host/path', '-lead', 'trail-', 'h\nHost: evil', '[zz]', `${'a'.repeat(256)}`])(
    'refuses upstream-vhost %j',
    (value) => {
      expect(problems({ [`${NGINX}upstream-vhost`]: value })).toEqual([
        { key: `${NGINX}upstream-vhost`, message: `${NGINX}upstream-vhost: ${JSON.stringify(value)} is not a host name or IP address with an optional port (nginx variables are not supported)` },
      ]);
    },
  );

  it('reads preserve-trailing-slash: "false" as stripping the ssl-redirect slash, "true" as the default', () => {
    expect(readRewrite(ing({ [`${NGINX}preserve-trailing-slash`]: 'false' }))).toEqual({ ok: true, value: { useRegex: false, rewrite: { stripTrailingSlash: true } } });
    expect(readRewrite(ing({ [`${NGINX}preserve-trailing-slash`]: 'true' }))).toEqual({ ok: true, value: { useRegex: false } });
    expect(problems({ [`${NGINX}preserve-trailing-slash`]: 'no' })[0]!.key).toBe(`${NGINX}preserve-trailing-slash`);
  });

  it('reports every bad annotation at once', () => {
    expect(problems({ [`${NGINX}rewrite-target`]: '/a?', [`${NGINX}use-regex`]: 'maybe', [`${NGINX}upstream-vhost`]: '$host' }).map((p) => p.key)).toEqual([
      `${NGINX}rewrite-target`, `${NGINX}upstream-vhost`, `${NGINX}use-regex`,
    ]);
  });

  it('leaves the Ingress out with GH_ANNOTATION_INVALID', () => {
    const conditions: Condition[] = [];
    expect(readIngressAnnotations(ing({ [`${NGINX}rewrite-target`]: '/$host' }), { sslRedirect: true }, conditions)).toBeNull();
    expect(conditions.map((c) => [c.code, c.field])).toEqual([['GH_ANNOTATION_INVALID', `metadata.annotations["${NGINX}rewrite-target"]`]]);
  });

  it('puts the policy in the Ingress’s RoutePolicies, and use-regex beside them', () => {
    const a = readIngressAnnotations(ing({ [`${NGINX}rewrite-target`]: '/$1', [`${NGINX}use-regex`]: 'true' }), { sslRedirect: true }, [])!;
    expect(a.policies.rewrite).toEqual({ target: '/$1' });
    expect(a.rewrite.useRegex).toBe(true);
    expect(readIngressAnnotations(ing({ [`${NGINX}use-regex`]: 'true' }), { sslRedirect: true }, [])!.policies).toEqual({});
  });

  // fast-check: whatever the values, reading never throws and nothing taken holds a control
  // character (no CR/LF can reach a header, a request line or a log line).
  it('never throws and never takes a value with control characters, for any strings', () => {
    const names = ['rewrite-target', 'x-forwarded-prefix', 'upstream-vhost', 'use-regex', 'preserve-trailing-slash'];
    const value = fc.oneof(fc.string({ unit: 'binary' }), fc.stringMatching(/^[/$0-9a-z:.\-[\]\r\n ]{0,20}$/));
    fc.assert(
      fc.property(fc.dictionary(fc.constantFrom(...names), value), fc.boolean(), (values, ours) => {
        const annotations = Object.fromEntries(Object.entries(values).map(([k, v]) => [(ours ? 'gatehouse.io/' : NGINX) + k, v]));
        const r = readRewrite(ing(annotations));
        if (!r.ok) {
          for (const p of r.problems) expect(p.message).not.toMatch(/[\r\n]/);
          return;
        }
        for (const v of Object.values(r.value.rewrite ?? {})) if (typeof v === 'string') expect([...v].some((c) => c < ' ' || c === '\x7f')).toBe(false);
      }),
      { numRuns: 2000 },
    );
  });
});

describe('regex mode and per-route fitting', () => {
  it('turns regex mode on for use-regex, or a rewrite-target other than the path as written', () => {
    expect(wantsRegexMode({ useRegex: true }, '/a')).toBe(true);
    expect(wantsRegexMode({ useRegex: false, rewrite: { target: '/b' } }, '/a')).toBe(true);
    expect(wantsRegexMode({ useRegex: false, rewrite: { target: '/a' } }, '/a')).toBe(false);
    expect(wantsRegexMode({ useRegex: false, rewrite: { xForwardedPrefix: '/p', upstreamVhost: 'v' } }, '/a')).toBe(false);
    expect(wantsRegexMode({ useRegex: false }, '/a')).toBe(false);
  });

  it('drops the target where it equals the path as written, and keeps the rest', () => {
    expect(routeRewrite({ target: '/' }, '/', null)).toBeUndefined();
    expect(routeRewrite({ target: '/a', upstreamVhost: 'v' }, '/a', null)).toEqual({ upstreamVhost: 'v' });
    expect(routeRewrite({ target: '/a' }, '/b', null)).toEqual({ target: '/a' });
    expect(routeRewrite(undefined, '/b', '/b')).toBeUndefined();
  });

  it('carries the route’s regex only where a template names a group', () => {
    expect(routeRewrite({ target: '/$1' }, '/(.*)', '/(.*)')).toEqual({ target: '/$1', pattern: '/(.*)' });
    expect(routeRewrite({ target: '/x', xForwardedPrefix: '/$2' }, '/(a)(b)', '/(a)(b)')).toEqual({ target: '/x', xForwardedPrefix: '/$2', pattern: '/(a)(b)' });
    expect(routeRewrite({ target: '/x' }, '/(.*)', '/(.*)')).toEqual({ target: '/x' });
    // A Prefix or Exact route has no regex: its groups expand to nothing.
    expect(routeRewrite({ target: '/$1' }, '/api', null)).toEqual({ target: '/$1' });
  });

  it.each([
    ['/', ['/']],
    ['/$1', ['/', 1]],
    ['$2/x/$1', [2, '/x/', 1]],
    ['/$10', ['/', 1, '0']],
    ['/a$1$2b', ['/a', 1, 2, 'b']],
  ] as const)('splits the template %j', (template, want) => {
    expect(parseTemplate(template)).toEqual(want);
  });
});
