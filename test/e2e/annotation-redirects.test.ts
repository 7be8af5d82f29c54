// The redirect family end to end (core/annotations/redirect.ts, dataplane/policies/redirect.ts):
// answered by the proxy with the exact status and Location, never forwarded, for requests and
// WebSocket upgrades alike.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEchoes, type Echo } from '../support/echo-upstream.ts';
import { rawExchange } from '../support/http-client.ts';
import { backendService, ingress, ingressClass, manifest, startGatehouse, type Gatehouse } from '../support/harness.ts';

const N = 'nginx.ingress.kubernetes.io/';

describe('redirect annotations', () => {
  let e: Record<'app', Echo> & { closeAll(): Promise<void> };
  let gh: Gatehouse;

  beforeAll(async () => {
    e = await startEchoes(['app'] as const);
    const route = (host: string) => ({ host, paths: [{ path: '/', pathType: 'Prefix' as const, service: 'app' }] });
    gh = await startGatehouse({
      manifests: manifest(
        ingressClass('gatehouse'),
        backendService('app', e.app.port),
        ingress('moved', { annotations: { [`${N}permanent-redirect`]: 'https://new.example.com/landing?from=old', [`${N}permanent-redirect-code`]: '308' }, rules: [route('moved.test')] }),
        ingress('temp', { annotations: { [`gatehouse.io/temporal-redirect`]: 'http://maint.example.com/' }, rules: [route('temp.test')] }),
        ingress('shop', { annotations: { [`${N}app-root`]: '/app/home', [`${N}from-to-www-redirect`]: 'true' }, rules: [route('shop.test')] }),
        // Only the path /special carries a redirect; the rest of the host is served.
        ingress('plain', { rules: [route('mixed.test')] }),
        ingress('special', { annotations: { [`${N}permanent-redirect`]: 'https://elsewhere.example.com' }, rules: [{ host: 'mixed.test', paths: [{ path: '/special', pathType: 'Prefix', service: 'app' }] }] }),
      ),
    });
  });

  afterAll(async () => {
    await gh?.close();
    await e?.closeAll();
  });

  /** One raw request; the status, the Location, and whether the upstream saw it. */
  async function exchange(target: string, host: string, extra = ''): Promise<{ status: number; location: string | undefined; forwarded: boolean }> {
    const before = e.app.received.length;
    const r = await rawExchange(gh.httpPort, `GET ${target} HTTP/1.1\r\nHost: ${host}\r\n${extra}Connection: close\r\n\r\n`);
    return { status: r.status, location: r.headers.get('location')?.[0], forwarded: e.app.received.length > before };
  }

  it('permanent-redirect answers every path with its code and URL, as given', async () => {
    expect(await exchange('/any/path?q=1', 'moved.test')).toEqual({ status: 308, location: 'https://new.example.com/landing?from=old', forwarded: false });
  });

  it('temporal-redirect answers 302 by default', async () => {
    expect(await exchange('/', 'temp.test')).toEqual({ status: 302, location: 'http://maint.example.com/', forwarded: false });
  });

  it('app-root answers 302 for `/` only, with the request host and port; other paths are served', async () => {
    expect(await exchange('/', `shop.test:${gh.httpPort}`)).toEqual({ status: 302, location: `http://shop.test:${gh.httpPort}/app/home`, forwarded: false });
    expect(await exchange('/?utm=x', 'shop.test')).toEqual({ status: 302, location: 'http://shop.test/app/home', forwarded: false });
    expect(await exchange('/./', 'shop.test')).toMatchObject({ status: 302 });
    expect(await exchange('/app/home', 'shop.test')).toEqual({ status: 200, location: undefined, forwarded: true });
  });

  it('from-to-www-redirect answers requests for www.<host> with 308 to the host, target byte for byte', async () => {
    expect(await exchange('/a%2Fb/c?x=%20&y=1', `www.shop.test:${gh.httpPort}`)).toEqual({ status: 308, location: `http://shop.test:${gh.httpPort}/a%2Fb/c?x=%20&y=1`, forwarded: false });
    expect(await exchange('/', 'WWW.Shop.Test')).toEqual({ status: 308, location: 'http://shop.test/', forwarded: false });
  });

  it('a redirect on one path leaves the other paths of the host alone', async () => {
    expect(await exchange('/special/x', 'mixed.test')).toEqual({ status: 301, location: 'https://elsewhere.example.com', forwarded: false });
    expect(await exchange('/other', 'mixed.test')).toEqual({ status: 200, location: undefined, forwarded: true });
  });

  it('a WebSocket upgrade is redirected too, never forwarded', async () => {
    const upgrade = 'Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n';
    const before = e.app.received.length;
    const r = await rawExchange(gh.httpPort, `GET /chat HTTP/1.1\r\nHost: moved.test\r\nConnection: Upgrade\r\n${upgrade}\r\n`);
    expect(r.status).toBe(308);
    expect(r.headers.get('location')).toEqual(['https://new.example.com/landing?from=old']);
    expect(e.app.received.length).toBe(before);
  });
});
