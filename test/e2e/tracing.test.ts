// Request IDs and traces end to end: X-Request-ID made when absent (32 hex digits) or the client's
// kept, sent upstream and answered; generate-request-id: "false" makes none; W3C traceparent
// propagated with a new span id for the proxy hop, tracestate with it; a malformed traceparent
// replaced, never passed through; spans of sampled requests posted as OTLP/HTTP JSON to a receiver
// the test runs, and counted as dropped (never waited for) while it refuses them.

import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { headerValues, startEcho, type Echo, type EchoReply } from '../support/echo-upstream.ts';
import { backendService, ingress, ingressClass, manifest, startGatehouse, waitFor, type Gatehouse } from '../support/harness.ts';
import { parsePrometheusText } from '../support/prometheus-text.ts';

interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  traceState?: string;
  name: string;
  kind: number;
  startTimeUnixNano: string;
  endTimeUnixNano: string;
  attributes: { key: string; value: { stringValue?: string; intValue?: string } }[];
  status: { code?: number };
}

/** An OTLP/HTTP receiver on 127.0.0.1: keeps the spans of each JSON post; answers `status`. */
async function startReceiver(): Promise<{ url: string; spans: OtlpSpan[]; posts: number; status: number; server: Server }> {
  const r = { url: '', spans: [] as OtlpSpan[], posts: 0, status: 200, server: createServer() };
  r.server.on('request', (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      r.posts++;
      if (req.url === '/v1/traces' && req.headers['content-type'] === 'application/json' && r.status === 200) {
        const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { resourceSpans: { resource: unknown; scopeSpans: { spans: OtlpSpan[] }[] }[] };
        for (const rs of body.resourceSpans) for (const ss of rs.scopeSpans) r.spans.push(...ss.spans);
      }
      res.writeHead(r.status, { 'content-type': 'application/json' });
      res.end('{}');
    });
  });
  await new Promise<void>((resolve) => r.server.listen(0, '127.0.0.1', resolve));
  r.url = `http://127.0.0.1:${(r.server.address() as { port: number }).port}`;
  return r;
}

const PARENT_TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const PARENT_SPAN = '00f067aa0ba902b7';

describe('request IDs, trace context and OTLP export', () => {
  let echo: Echo;
  let gh: Gatehouse;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;

  beforeAll(async () => {
    echo = await startEcho({ name: 'traced' });
    receiver = await startReceiver();
    gh = await startGatehouse({
      options: { workers: 2, otlpEndpoint: receiver.url, otlpSampleRatio: 1, configmap: 'gatehouse/settings' },
      manifests: {
        'site.yaml': manifest(ingressClass('gatehouse'), backendService('echo', echo.port, { namespace: 'web' }), ingress('site', { namespace: 'web', rules: [{ host: 'site.test', paths: [{ path: '/', service: 'echo' }] }] })),
        'settings.yaml': manifest({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'settings', namespace: 'gatehouse' }, data: {} }),
      },
    });
  });

  afterAll(async () => {
    await gh?.close();
    await echo?.close();
    await new Promise((r) => receiver?.server.close(r));
  });

  const upstream = (text: string, name: string) => headerValues((JSON.parse(text) as EchoReply).headers, name);

  it('makes an X-Request-ID when the client sends none, keeps the client\'s, and gives it upstream and back', async () => {
    const made = await gh.request('/a', { host: 'site.test' });
    expect(made.headers['x-request-id']).toMatch(/^[0-9a-f]{32}$/);
    expect(upstream(made.text, 'x-request-id')).toEqual([made.headers['x-request-id']]);
    const other = await gh.request('/a', { host: 'site.test' });
    expect(other.headers['x-request-id']).not.toBe(made.headers['x-request-id']);
    const kept = await gh.request('/a', { host: 'site.test', headers: { 'X-Request-ID': 'client-id-7' } });
    expect(kept.headers['x-request-id']).toBe('client-id-7');
    expect(upstream(kept.text, 'x-request-id')).toEqual(['client-id-7']);
    // Answers Gatehouse gives itself carry it too.
    expect((await gh.request('/', { host: 'nobody.test' })).headers['x-request-id']).toMatch(/^[0-9a-f]{32}$/);
  });

  it('propagates a traceparent with a new span id for the proxy hop, and exports that span', async () => {
    const reply = await gh.request('/traced?x=1', { host: 'site.test', headers: { traceparent: `00-${PARENT_TRACE}-${PARENT_SPAN}-01`, tracestate: 'vendor=opaque' } });
    const [sent] = upstream(reply.text, 'traceparent');
    const m = /^00-([0-9a-f]{32})-([0-9a-f]{16})-01$/.exec(sent!)!;
    expect(m[1]).toBe(PARENT_TRACE);
    expect(m[2]).not.toBe(PARENT_SPAN);
    expect(upstream(reply.text, 'tracestate')).toEqual(['vendor=opaque']);
    await waitFor('the span at the receiver', () => receiver.spans.some((s) => s.spanId === m[2]));
    const span = receiver.spans.find((s) => s.spanId === m[2])!;
    expect(span).toMatchObject({ traceId: PARENT_TRACE, parentSpanId: PARENT_SPAN, traceState: 'vendor=opaque', name: 'GET', kind: 2, status: {} });
    const attrs = Object.fromEntries(span.attributes.map((a) => [a.key, a.value.stringValue ?? a.value.intValue]));
    expect(attrs).toMatchObject({ 'http.request.method': 'GET', 'url.path': '/traced', 'server.address': 'site.test', 'http.response.status_code': '200', 'k8s.namespace.name': 'web', 'gatehouse.ingress': 'site', 'gatehouse.service': 'echo', 'upstream.address': `127.0.0.1:${echo.port}` });
    expect(BigInt(span.endTimeUnixNano)).toBeGreaterThanOrEqual(BigInt(span.startTimeUnixNano));
    expect(Number(BigInt(span.endTimeUnixNano) / 1_000_000n)).toBeGreaterThan(Date.now() - 60_000);
  });

  it('replaces a malformed traceparent and drops its tracestate; starts a trace for a request without one', async () => {
    const bad = await gh.request('/', { host: 'site.test', headers: { traceparent: `00-${PARENT_TRACE.toUpperCase()}-${PARENT_SPAN}-01`, tracestate: 'vendor=opaque' } });
    const [replaced] = upstream(bad.text, 'traceparent');
    expect(replaced).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
    expect(replaced).not.toContain(PARENT_TRACE);
    expect(upstream(bad.text, 'tracestate')).toEqual([]);
    const none = await gh.request('/', { host: 'site.test' });
    expect(upstream(none.text, 'traceparent')).toHaveLength(1);
  });

  it('drops spans the receiver refuses, and counts them', async () => {
    receiver.status = 503;
    const posts = receiver.posts;
    for (let i = 0; i < 5; i++) await gh.request('/dropped', { host: 'site.test' });
    const scrape = async () => parsePrometheusText(await (await fetch(`http://127.0.0.1:${gh.adminPort}/metrics`)).text());
    await waitFor('the refused spans counted as dropped', async () => (await scrape()).value('gatehouse_otlp_spans_dropped_total')! >= 5, 15_000);
    expect(receiver.posts).toBeGreaterThan(posts);
    expect((await scrape()).value('gatehouse_otlp_spans_exported_total')).toBeGreaterThanOrEqual(3);
    receiver.status = 200;
  });

  it('makes no X-Request-ID with generate-request-id: "false", and still passes the client\'s', async () => {
    await gh.write('settings.yaml', manifest({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'settings', namespace: 'gatehouse' }, data: { 'generate-request-id': 'false' } }));
    const none = await gh.request('/', { host: 'site.test' });
    expect(none.headers['x-request-id']).toBeUndefined();
    expect(upstream(none.text, 'x-request-id')).toEqual([]);
    const kept = await gh.request('/', { host: 'site.test', headers: { 'x-request-id': 'mine' } });
    expect(kept.headers['x-request-id']).toBe('mine');
    expect(upstream(kept.text, 'x-request-id')).toEqual(['mine']);
  });
});
