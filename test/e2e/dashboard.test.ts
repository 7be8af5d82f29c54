// The dashboard (/dashboard on the status port, issue 11 item 5) in headless Chromium (Debian's
// `chromium`, driven by playwright-core against the system browser): the page loads with no
// request anywhere but the admin server and no script error; it shows the route we created, its
// backend's endpoints and the conditions; it updates without a reload when a manifest changes
// (new generation, new route); and it shows live request and error rates per Ingress from
// /metrics, or "metrics not available" when /metrics is absent.
//
// GATEHOUSE_DASHBOARD_SCREENSHOT=file.png saves what the page shows at the end.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { createCa, tlsSecret } from '../support/certs.ts';
import { startEcho, type Echo } from '../support/echo-upstream.ts';
import { send } from '../support/http-client.ts';
import { backendService, ingress, ingressClass, manifest, service, simpleIngress, startGatehouse, waitFor, type Gatehouse } from '../support/harness.ts';
import { requirePackage } from '../support/system-package.ts';

const CHROMIUM = '/usr/bin/chromium';
const DAY = 86_400_000;

const site = (name: string, host: string, svc: string, creationTimestamp: string) => ingress(name, { creationTimestamp, rules: [{ host, paths: [{ path: '/', service: svc }] }] });

describe.runIf(requirePackage('chromium', [CHROMIUM], { suites: 'dashboard suites' }))('dashboard', () => {
  let gh: Gatehouse;
  let echo: Echo;
  let browser: Browser;
  let page: Page;
  let dashboard: string;
  const requested: string[] = [];
  const pageErrors: string[] = [];

  const cellText = (table: string, key: string, column: number) => page.locator(`#${table} tbody tr[data-key="${key}"] td`).nth(column).textContent();

  beforeAll(async () => {
    echo = await startEcho({ name: 'dash' });
    const ca = await createCa();
    const cert = await ca.issue({ dnsNames: ['secure.test'], notAfter: new Date(Date.now() + 10 * DAY + DAY / 2) });
    const secure = ingress('secure', { rules: [{ host: 'secure.test', paths: [{ path: '/', service: 'shop' }] }] });
    gh = await startGatehouse({
      manifests: {
        'base.yaml': manifest(ingressClass('gatehouse'), tlsSecret('secure-cert', cert), { ...secure, spec: { ...(secure.spec as object), tls: [{ hosts: ['secure.test'], secretName: 'secure-cert' }] } }, backendService('shop', echo.port), service('gone'), site('shop', 'shop.test', 'shop', '2020-01-01T00:00:00Z'), simpleIngress('broken', 'broken.test', 'gone'), site('lost', 'shop.test', 'shop', '2030-01-01T00:00:00Z')),
      },
    });
    dashboard = `http://127.0.0.1:${gh.adminPort}/dashboard`;
    const { chromium } = await import('playwright-core');
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
    page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
    page.on('request', (r) => requested.push(r.url()));
    page.on('pageerror', (e) => pageErrors.push(e.message));
  });

  afterAll(async () => {
    const shot = process.env.GATEHOUSE_DASHBOARD_SCREENSHOT;
    if (shot && page) await page.screenshot({ path: shot, fullPage: true });
    await browser?.close();
    await gh?.close();
    await echo?.close();
  });

  it('loads, and shows the route we created, its endpoint and the conditions', async () => {
    await page.goto(dashboard);
    await page.locator('#routes tbody tr[data-key="shop.test Prefix /"]').waitFor();
    expect(await cellText('routes', 'shop.test Prefix /', 3)).toBe('default/shop');
    expect(await cellText('routes', 'shop.test Prefix /', 4)).toBe('default/shop:80');
    expect(await page.locator('#generation').textContent()).toBe(String(gh.served().generation));
    expect(await page.locator('#ready').textContent()).toBe('yes');
    expect(await page.locator('#leader').textContent()).toMatch(/local mode/);
    expect(await page.locator('#backends tbody tr[data-key="default/shop:80"]').textContent()).toContain(`127.0.0.1:${echo.port} up`);
    // The Ingress that lost shop.test / to the older one, and the Service without endpoints.
    expect(await page.locator('#conditions').textContent()).toContain('GH_ROUTE_CONFLICT');
    expect(await page.locator('#backends tbody tr[data-key="default/gone:80"]').textContent()).toContain('no ready endpoint');
    // The certificate the TLS Secret serves, with its expiry: 10 days left, flagged as soon.
    const certRow = page.locator('#certificates tbody tr', { hasText: 'default/secure-cert' });
    expect(await certRow.locator('td').nth(1).textContent()).toBe('secure.test');
    expect(await certRow.locator('td').nth(3).textContent()).toBe('10');
    expect(await certRow.locator('td').nth(3).getAttribute('class')).toContain('soon');
    expect(await cellText('routes', 'secure.test Prefix /', 5)).toBe('ssl-redirect');
  });

  it('explains a URL from the page (/debug/explain)', async () => {
    await page.locator('#explain-url').fill('http://shop.test/cart');
    await page.locator('#explain-form button').click();
    await page.locator('#explain-out', { hasText: 'answer:' }).waitFor();
    const text = await page.locator('#explain-out').textContent();
    expect(text).toContain('answer: forwarded to default/shop:80 (Prefix /)');
    expect(text).toContain('GH_ROUTE_CONFLICT default/lost');
  });

  it('updates without a reload when a manifest changes: new generation, new route', async () => {
    const before = gh.served().generation;
    await gh.write('more.yaml', manifest(ingress('added', { rules: [{ host: 'new.test', paths: [{ path: '/fresh', pathType: 'Exact', service: 'shop' }] }] })));
    expect(gh.served().generation).toBeGreaterThan(before);
    await page.locator('#routes tbody tr[data-key="new.test Exact /fresh"]').waitFor();
    await waitFor('the page to show the new generation', async () => (await page.locator('#generation').textContent()) === String(gh.served().generation));
  });

  it('shows request and error rates per Ingress from /metrics', async () => {
    const metrics = await send(gh.agent, `http://127.0.0.1:${gh.adminPort}`, '/metrics');
    expect(metrics.status).toBe(200);
    // Traffic, bounded in requests and time, until the page shows a rate for each Ingress.
    const deadline = Date.now() + 20_000;
    let sent = 0;
    const shows = async (key: string, column: number) => Number((await page.locator(`#rates tbody tr[data-key="${key}"] td`).nth(column).textContent({ timeout: 100 }).catch(() => '0')) ?? '0') > 0;
    while (!((await shows('default/shop', 1)) && (await shows('default/broken', 3)))) {
      if (Date.now() > deadline || sent > 2000) throw new Error(`no rates on the page after ${sent} requests`);
      await Promise.all([gh.request('/', { headers: { host: 'shop.test' } }), gh.request('/', { headers: { host: 'broken.test' } })]);
      sent += 2;
    }
    expect(await page.locator('#rates-note').textContent()).toMatch(/gatehouse_requests_total/);
  });

  it('asked nothing of anyone but the admin server, and threw no script error', () => {
    const origin = new URL(dashboard).origin;
    expect(requested.filter((u) => !u.startsWith(`${origin}/`))).toEqual([]);
    expect(requested).toEqual(expect.arrayContaining([`${origin}/dashboard/app.js`, `${origin}/dashboard/style.css`, `${origin}/debug/state`]));
    expect(pageErrors).toEqual([]);
  });
});
