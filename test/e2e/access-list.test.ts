// Access lists end to end (allowlist/whitelist/denylist-source-range): a client outside the allow
// list or inside the deny list gets 403 and nothing reaches the upstream, for plain requests,
// HTTP/2 and WebSocket upgrades alike. Clients here come from 127.0.0.1 only, so the lists include
// or exclude 127.0.0.1 and its IPv4-mapped form ::ffff:127.0.0.1; IPv6 clients are covered by the
// step's unit tests (src/dataplane/policies/access-list.test.ts).

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { h2Request, h2Session } from '../support/certs.ts';
import { startEcho, type Echo } from '../support/echo-upstream.ts';
import { rawExchange, servedBy } from '../support/http-client.ts';
import { backendService, ingress, ingressClass, manifest, startGatehouse, type Gatehouse } from '../support/harness.ts';

const A = 'nginx.ingress.kubernetes.io/';

describe('access lists', () => {
  let echo: Echo;
  let gh: Gatehouse;

  const site = (host: string, annotations: Record<string, string>) =>
    ingress(host.replaceAll('.', '-'), { annotations, rules: [{ host, paths: [{ path: '/', pathType: 'Prefix', service: 'echo' }] }] });

  beforeAll(async () => {
    echo = await startEcho({ name: 'acl' });
    gh = await startGatehouse({
      manifests: manifest(
        ingressClass('gatehouse'),
        backendService('echo', echo.port),
        site('allowed.test', { [`${A}allowlist-source-range`]: '10.0.0.0/8, 127.0.0.1/32' }),
        site('outside.test', { [`${A}allowlist-source-range`]: '10.0.0.0/8,192.168.0.0/16' }),
        site('old-name.test', { [`${A}whitelist-source-range`]: '127.0.0.0/8' }),
        site('old-name-outside.test', { [`${A}whitelist-source-range`]: '192.0.2.0/24' }),
        // allowlist-source-range wins over whitelist-source-range.
        site('both-names.test', { [`${A}whitelist-source-range`]: '127.0.0.1', [`${A}allowlist-source-range`]: '10.0.0.0/8' }),
        site('denied.test', { 'gatehouse.io/denylist-source-range': '127.0.0.0/8' }),
        site('not-denied.test', { [`${A}denylist-source-range`]: '10.0.0.0/8,::1' }),
        site('mapped.test', { [`${A}allowlist-source-range`]: '::ffff:127.0.0.1' }),
        site('mapped-denied.test', { [`${A}denylist-source-range`]: '::ffff:127.0.0.0/104' }),
        site('v6-only.test', { [`${A}allowlist-source-range`]: '::1/128,2001:db8::/32' }),
        // In both: nginx's deny rules come first.
        site('deny-wins.test', { [`${A}allowlist-source-range`]: '127.0.0.1', [`${A}denylist-source-range`]: '127.0.0.1' }),
      ),
    });
  });

  afterAll(async () => {
    await gh?.close();
    await echo?.close();
  });

  it.each(['allowed.test', 'old-name.test', 'not-denied.test', 'mapped.test'])('forwards a client inside the allow list / outside the deny list: %s', async (host) => {
    const r = await gh.request('/x?y=1', { host });
    expect(r.status).toBe(200);
    expect(servedBy(r)).toBe('acl');
  });

  it.each(['outside.test', 'old-name-outside.test', 'both-names.test', 'denied.test', 'mapped-denied.test', 'v6-only.test', 'deny-wins.test'])(
    'answers 403 and forwards nothing: %s',
    async (host) => {
      const before = echo.received.length;
      for (const method of ['GET', 'POST', 'OPTIONS']) {
        const r = await gh.request('/x', { host, method, ...(method === 'POST' ? { body: 'data' } : {}) });
        expect(r.status, method).toBe(403);
        expect(r.text).toBe('403 Forbidden\n');
      }
      expect(echo.received.length).toBe(before);
    },
  );

  it('refuses a WebSocket upgrade from outside the list, forwarding nothing', async () => {
    const before = echo.received.length;
    const r = await rawExchange(gh.httpPort, 'GET /ws HTTP/1.1\r\nHost: outside.test\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n');
    expect(r.status).toBe(403);
    expect(echo.received.length).toBe(before);
  });

  it('answers HTTP/2 requests the same way', async () => {
    const session = await h2Session(gh.httpsPort, { servername: 'outside.test' });
    try {
      const before = echo.received.length;
      expect((await h2Request(session, { ':method': 'GET', ':path': '/', ':authority': 'outside.test' })).status).toBe(403);
      expect((await h2Request(session, { ':method': 'GET', ':path': '/', ':authority': 'allowed.test' })).status).toBe(200);
      expect(echo.received.length).toBe(before + 1);
    } finally {
      session.close();
    }
  });
});
