import { createServer, type ServerResponse } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { QUEUE_LIMIT, SpanExporter, type ProxySpan } from './span-exporter.ts';
import { traceContext } from './trace-context.ts';

const span = (): ProxySpan => ({ trace: traceContext(undefined, undefined, 1)!, start: '1', end: '2', method: 'GET', path: '/', host: 'h', status: 200, protocol: 'HTTP/1.1', namespace: '', ingress: '', service: '', upstreamAddress: null });

describe('OTLP span export', () => {
  // A receiver that holds every post until the test lets go: the exporter must not wait for it.
  const held: ServerResponse[] = [];
  const server = createServer((req, res) => {
    req.resume();
    held.push(res);
  });
  let url = '';
  beforeAll(async () => {
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  });
  afterAll(async () => {
    for (const res of held) res.destroy();
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });

  it('keeps at most QUEUE_LIMIT spans while a post is in flight and drops the rest, counted', async () => {
    let dropped = 0;
    let exported = 0;
    const exporter = new SpanExporter(url, { dropped: (n) => (dropped += n), exported: (n) => (exported += n) });
    // The first 512 go in one post, which the receiver holds; the queue then fills.
    for (let i = 0; i < 512 + QUEUE_LIMIT + 100; i++) exporter.add(span());
    expect(dropped).toBe(100);
    await new Promise<void>((r) => {
      const check = () => (held.length > 0 ? r() : setTimeout(check, 10));
      check();
    });
    held.shift()!.end();
    // The answer counts the batch exported; the next batch goes out.
    await new Promise<void>((r) => {
      const check = () => (exported === 512 && held.length > 0 ? r() : setTimeout(check, 10));
      check();
    });
    expect(exported).toBe(512);
  });
});
