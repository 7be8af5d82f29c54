// gatehouse.io/request-headers and gatehouse.io/response-headers end to end: the request list
// reaches the upstream (replacing the client's header of that name, for HTTP/1.1 and HTTP/2
// clients and WebSocket upgrades), the response list reaches the client (replacing the
// upstream's, and on the proxy's own error answers); a list the grammar refuses leaves its
// Ingress out with a condition while the others are served.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { h2Request, h2Session } from '../support/certs.ts';
import { headerValues, startEcho, type Echo, type EchoReply } from '../support/echo-upstream.ts';
import { servedBy } from '../support/http-client.ts';
import { backendService, ingress, ingressClass, manifest, service, startGatehouse, waitFor, type Gatehouse } from '../support/harness.ts';

describe('typed request and response headers', () => {
  let echo: Echo;
  let gh: Gatehouse;

  const site = (name: string, host: string, svc: string, annotations: Record<string, string>) =>
    ingress(name, { annotations, rules: [{ host, paths: [{ path: '/', pathType: 'Prefix', service: svc }] }] });
  const HEADERS = {
    'gatehouse.io/request-headers': 'X-Team: payments\nX-Override: ours\n',
    'gatehouse.io/response-headers': 'X-Frame-Options: DENY\nX-End-To-End: ours\n',
  };

  beforeAll(async () => {
    echo = await startEcho({ name: 'hdr' });
    gh = await startGatehouse({
      manifests: manifest(
        ingressClass('gatehouse'),
        backendService('echo', echo.port),
        service('down'),
        site('headers', 'headers.test', 'echo', HEADERS),
        site('down', 'down.test', 'down', HEADERS),
        site('bad', 'bad.test', 'echo', { 'gatehouse.io/request-headers': 'X-Real-IP: 203.0.113.9' }),
      ),
    });
  });

  afterAll(async () => {
    await gh?.close();
    await echo?.close();
  });

  it('sets the request headers on what the upstream receives, replacing the client\'s of that name', async () => {
    const r = await gh.request('/a', { host: 'headers.test', headers: { 'x-override': 'theirs', 'x-other': 'kept' } });
    const reply = JSON.parse(r.text) as EchoReply;
    expect(headerValues(reply.headers, 'x-team')).toEqual(['payments']);
    expect(headerValues(reply.headers, 'x-override')).toEqual(['ours']);
    expect(headerValues(reply.headers, 'x-other')).toEqual(['kept']);
    // The forwarding headers are still the proxy's own.
    expect(headerValues(reply.headers, 'x-real-ip')).toEqual(['127.0.0.1']);
  });

  it("sets the response headers on the answer, replacing the upstream's of that name", async () => {
    const r = await gh.request('/__hop', { host: 'headers.test' });
    expect(servedBy(r)).toBe('hdr');
    expect(r.headers['x-frame-options']).toBe('DENY');
    expect(r.headers['x-end-to-end']).toBe('ours');
  });

  it("puts the response headers on the proxy's own error answers too", async () => {
    const r = await gh.request('/', { host: 'down.test' });
    expect(r.status).toBe(503);
    expect(r.headers['x-frame-options']).toBe('DENY');
  });

  it('does the same for HTTP/2 clients', async () => {
    const session = await h2Session(gh.httpsPort, { servername: 'headers.test' });
    try {
      const r = await h2Request(session, { ':method': 'GET', ':path': '/h2', ':authority': 'headers.test', 'x-override': 'theirs' });
      expect(r.headers['x-frame-options']).toBe('DENY');
      const reply = JSON.parse(String(r.body)) as EchoReply;
      expect(headerValues(reply.headers, 'x-team')).toEqual(['payments']);
      expect(headerValues(reply.headers, 'x-override')).toEqual(['ours']);
    } finally {
      session.close();
    }
  });

  it('sets the request headers on WebSocket upgrades', async () => {
    const before = echo.received.length;
    const ws = new WebSocket(`ws://127.0.0.1:${gh.httpPort}/ws`, { headers: { host: 'headers.test', 'x-override': 'theirs' } });
    try {
      await new Promise<void>((resolve, reject) => {
        ws.once('open', () => resolve());
        ws.once('error', reject);
      });
      await waitFor('the upgrade to reach the upstream', () => echo.received.length > before);
      const rec = echo.received[before]!;
      expect(rec.upgrade).toBe(true);
      expect(headerValues(rec.headers, 'x-team')).toEqual(['payments']);
      expect(headerValues(rec.headers, 'x-override')).toEqual(['ours']);
    } finally {
      ws.terminate();
    }
  });

  it('leaves an Ingress whose list is refused out, with a condition naming the annotation and the line', async () => {
    expect((await gh.request('/', { host: 'bad.test' })).status).toBe(404);
    expect(gh.controller.conditions()).toContainEqual({
      ref: { kind: 'Ingress', namespace: 'default', name: 'bad' },
      code: 'GH_ANNOTATION_INVALID',
      field: 'metadata.annotations["gatehouse.io/request-headers"]',
      message: 'gatehouse.io/request-headers: line "X-Real-IP: 203.0.113.9" sets X-Real-IP, which is set by the proxy from the connection; the Ingress is left out',
    });
  });
});
