import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { annotationValue } from '../../../test/support/annotation-fuzz.ts';
import { CATALOGUE, GATEHOUSE_ONLY, refusal } from './annotation-catalogue.ts';
import { annotationNameProblems, KNOWN } from './annotation-names.ts';

// Every annotation ingress-nginx reads at controller HEAD dbb11b9 (2026-03-20): the names in its
// parsers (internal/ingress/annotations/*/main.go) and in docs/user-guide/nginx-configuration/annotations.md.
const INGRESS_NGINX = `allowlist-source-range app-root auth-always-set-cookie auth-cache-duration auth-cache-key auth-keepalive
auth-keepalive-requests auth-keepalive-share-vars auth-keepalive-timeout auth-method auth-proxy-set-headers auth-realm
auth-request-redirect auth-response-headers auth-secret auth-secret-type auth-signin auth-signin-redirect-param auth-snippet
auth-tls-error-page auth-tls-match-cn auth-tls-pass-certificate-to-upstream auth-tls-secret auth-tls-verify-client
auth-tls-verify-depth auth-type auth-url backend-protocol canary canary-by-cookie canary-by-header canary-by-header-pattern
canary-by-header-value canary-weight canary-weight-total client-body-buffer-size configuration-snippet connection-proxy-header
cors-allow-credentials cors-allow-headers cors-allow-methods cors-allow-origin cors-expose-headers cors-max-age custom-headers
custom-http-errors default-backend denylist-source-range disable-proxy-intercept-errors enable-access-log enable-cors
enable-global-auth enable-modsecurity enable-opentelemetry enable-owasp-core-rules enable-rewrite-log fastcgi-index
fastcgi-params-configmap force-ssl-redirect from-to-www-redirect http2-push-preload limit-allowlist limit-burst-multiplier
limit-connections limit-rate limit-rate-after limit-rpm limit-rps limit-whitelist load-balance mirror-host mirror-request-body
mirror-target modsecurity-snippet modsecurity-transaction-id opentelemetry-operation-name opentelemetry-trust-incoming-span
permanent-redirect permanent-redirect-code preserve-trailing-slash proxy-body-size proxy-buffer-size proxy-buffering
proxy-buffers-number proxy-busy-buffers-size proxy-connect-timeout proxy-cookie-domain proxy-cookie-path proxy-http-version
proxy-max-temp-file-size proxy-next-upstream proxy-next-upstream-timeout proxy-next-upstream-tries proxy-read-timeout
proxy-redirect-from proxy-redirect-to proxy-request-buffering proxy-send-timeout proxy-ssl-ciphers proxy-ssl-name
proxy-ssl-protocols proxy-ssl-secret proxy-ssl-server-name proxy-ssl-verify proxy-ssl-verify-depth relative-redirects
rewrite-target satisfy server-alias server-snippet service-upstream session-cookie-change-on-failure
session-cookie-conditional-samesite-none session-cookie-domain session-cookie-expires session-cookie-max-age session-cookie-name
session-cookie-path session-cookie-samesite session-cookie-secure ssl-ciphers ssl-passthrough ssl-prefer-server-ciphers
ssl-redirect stream-snippet temporal-redirect temporal-redirect-code upstream-hash-by upstream-hash-by-subset
upstream-hash-by-subset-size upstream-vhost use-port-in-redirects use-regex whitelist-source-range x-forwarded-prefix affinity
affinity-canary-behavior affinity-mode`.split(/\s+/);

const read = (name: string) => CATALOGUE[name]?.status === 'supported' || CATALOGUE[name]?.status === 'differs';

describe('annotation catalogue', () => {
  it('has an entry for every annotation ingress-nginx reads', () => {
    expect(INGRESS_NGINX.filter((n) => CATALOGUE[n] === undefined)).toEqual([]);
  });

  it('every name it marks supported or differs is in KNOWN', () => {
    expect(Object.keys(CATALOGUE).filter((n) => read(n) && !KNOWN.has(n))).toEqual([]);
  });

  it('every ingress-nginx name in KNOWN is supported or differs, and the rest of KNOWN is Gatehouse\'s own', () => {
    expect([...KNOWN].filter((n) => !GATEHOUSE_ONLY.has(n) && !read(n))).toEqual([]);
    expect([...GATEHOUSE_ONLY].filter((n) => !KNOWN.has(n) || CATALOGUE[n] !== undefined)).toEqual([]);
  });

  it('gives each entry a one-line note, and each refused one the values it refuses', () => {
    for (const [name, e] of Object.entries(CATALOGUE)) {
      expect(e.note, name).toMatch(/^[^\r\n]{10,400}$/);
      expect(e.refuse !== undefined, name).toBe(e.status === 'refused');
    }
  });

  it('refuses snippets whatever their value, booleans only when true, and the rest when set', () => {
    const r = (name: string, value: string) => refusal(CATALOGUE[name]!, `nginx.ingress.kubernetes.io/${name}`, value);
    expect(r('configuration-snippet', '')).toEqual({ refused: true });
    expect(r('ssl-passthrough', 'true')).toEqual({ refused: true });
    expect(r('ssl-passthrough', 'True')).toEqual({ refused: true });
    expect(r('ssl-passthrough', '1')).toEqual({ refused: true });
    expect(r('ssl-passthrough', 'false')).toEqual({ refused: false });
    expect(r('enable-modsecurity', '0')).toEqual({ refused: false });
    expect(r('enable-opentelemetry', 'yes')).toEqual({ refused: false, invalid: 'nginx.ingress.kubernetes.io/enable-opentelemetry: "yes" is not a boolean ("true" or "false")' });
    expect(r('modsecurity-transaction-id', '$request_id')).toEqual({ refused: true });
    expect(r('modsecurity-transaction-id', ' ')).toEqual({ refused: false });
  });
});

describe('annotationNameProblems', () => {
  it('sorts names into snippets, refused, invalid, unsupported and unknown', () => {
    expect(annotationNameProblems({
      'nginx.ingress.kubernetes.io/server-snippet': 'x',
      'nginx.ingress.kubernetes.io/ssl-passthrough': 'true',
      'gatehouse.io/enable-modsecurity': 'true',
      'nginx.ingress.kubernetes.io/enable-owasp-core-rules': 'false',
      'gatehouse.io/ssl-passthrough': 'false',
      'nginx.ingress.kubernetes.io/enable-opentelemetry': 'on',
      'nginx.ingress.kubernetes.io/proxy-buffering': 'on',
      'gatehouse.io/proxy-buffering': 'on',
      'nginx.ingress.kubernetes.io/some-future-thing': '1',
      'nginx.ingress.kubernetes.io/rewrite-target': '/',
      'cert-manager.io/cluster-issuer': 'letsencrypt',
    })).toEqual({
      snippets: ['nginx.ingress.kubernetes.io/server-snippet'],
      refused: [
        { key: 'gatehouse.io/enable-modsecurity', note: CATALOGUE['enable-modsecurity']!.note },
        { key: 'nginx.ingress.kubernetes.io/ssl-passthrough', note: CATALOGUE['ssl-passthrough']!.note },
      ],
      invalid: [{ key: 'nginx.ingress.kubernetes.io/enable-opentelemetry', note: 'nginx.ingress.kubernetes.io/enable-opentelemetry: "on" is not a boolean ("true" or "false")' }],
      unsupported: [{ key: 'nginx.ingress.kubernetes.io/proxy-buffering', note: CATALOGUE['proxy-buffering']!.note }],
      unknown: ['gatehouse.io/proxy-buffering'],
    });
  });

  it('never throws on random values, and says nothing with a control character', () => {
    const names = Object.keys(CATALOGUE);
    fc.assert(fc.property(fc.constantFrom(...names), fc.constantFrom('gatehouse.io/', 'nginx.ingress.kubernetes.io/'), annotationValue, (name, prefix, value) => {
      const p = annotationNameProblems({ [prefix + name]: value });
      for (const n of [...p.refused, ...p.invalid, ...p.unsupported]) {
        // eslint-disable-next-line no-control-regex
        expect(n.note).not.toMatch(/[\u0000-\u001f\u007f]/);
      }
    }));
  });
});
