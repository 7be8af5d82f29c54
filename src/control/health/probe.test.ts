import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createH2cServer, type Http2Server, type ServerHttp2Stream } from 'node:http2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ActiveHealthPolicy, BackendProtocol } from '../../core/model.ts';
import { probe } from './probe.ts';

const policy = (protocol: BackendProtocol, path = '/healthz'): ActiveHealthPolicy => ({ path, protocol, intervalMs: 10_000, timeoutMs: 500, healthyThreshold: 2, unhealthyThreshold: 3, statusMin: 200, statusMax: 399 });

describe('probe', () => {
  let http: Server;
  let h2c: Http2Server;
  let grpcStatus: 'serving' | 'not-serving' | 'error' = 'serving';
  const port = (s: Server | Http2Server) => (s.address() as { port: number }).port;

  beforeAll(async () => {
    http = createHttpServer((req, res) => {
      if (req.url === '/hang') return;
      res.writeHead(req.url === '/healthz' ? 204 : 500).end();
    });
    h2c = createH2cServer();
    h2c.on('stream', (stream: ServerHttp2Stream, headers) => {
      const path = String(headers[':path']);
      if (path !== '/grpc.health.v1.Health/Check') return stream.respond({ ':status': path === '/healthz' ? 200 : 503 }, { endStream: true });
      stream.resume();
      stream.on('end', () => {
        if (grpcStatus === 'error') return stream.respond({ ':status': 200, 'content-type': 'application/grpc', 'grpc-status': '12' }, { endStream: true });
        stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
        stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
        // HealthCheckResponse { status: SERVING (1) | NOT_SERVING (2) }
        stream.end(Buffer.from([0, 0, 0, 0, 2, 0x08, grpcStatus === 'serving' ? 1 : 2]));
      });
    });
    await Promise.all([new Promise<void>((r) => http.listen(0, '127.0.0.1', r)), new Promise<void>((r) => h2c.listen(0, '127.0.0.1', r))]);
  });

  afterAll(async () => {
    http.closeAllConnections();
    await Promise.all([new Promise((r) => http.close(r)), new Promise((r) => h2c.close(r))]);
  });

  it('HTTP/1.1 GET: passes on a status in range, fails on another, a timeout or a refused connection', async () => {
    const e = { address: '127.0.0.1', port: port(http) };
    expect(await probe(e, policy('HTTP'))).toBe(true);
    expect(await probe(e, policy('HTTP', '/other'))).toBe(false);
    expect(await probe(e, { ...policy('HTTP', '/other'), statusMin: 500, statusMax: 500 })).toBe(true);
    expect(await probe(e, policy('HTTP', '/hang'))).toBe(false);
    expect(await probe({ address: '127.0.0.1', port: 1 }, policy('HTTP'))).toBe(false);
  });

  it('h2c GET for H2C backends', async () => {
    const e = { address: '127.0.0.1', port: port(h2c) };
    expect(await probe(e, policy('H2C'))).toBe(true);
    expect(await probe(e, policy('H2C', '/other'))).toBe(false);
  });

  it('grpc.health.v1.Health/Check for GRPC backends: SERVING passes; NOT_SERVING and an error status fail', async () => {
    const e = { address: '127.0.0.1', port: port(h2c) };
    grpcStatus = 'serving';
    expect(await probe(e, policy('GRPC'))).toBe(true);
    grpcStatus = 'not-serving';
    expect(await probe(e, policy('GRPC'))).toBe(false);
    grpcStatus = 'error';
    expect(await probe(e, policy('GRPC'))).toBe(false);
  });
});
