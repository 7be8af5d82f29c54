// One active health probe of one endpoint (gatehouse.io/health-check-*), the way the backend is
// spoken to (its backend-protocol):
// - HTTP: an HTTP/1.1 GET of the path; HTTPS: the same over TLS, the certificate not checked (a
//   probe asks whether the pod answers; proxy-ssl-verify guards the requests themselves);
// - H2C: an HTTP/2 cleartext GET (prior knowledge);
// - GRPC, GRPCS: grpc.health.v1.Health/Check for the whole server (service ""), passing when it
//   answers SERVING (https://github.com/grpc/grpc/blob/master/doc/health-checking.md).
// It passes when the answer's status is in the policy's range (gRPC: SERVING) within the timeout;
// a refused connection, a reset, a timeout or another status fail it. Nothing is kept alive: each
// probe opens and closes its own connection, so a probe sees what a new connection would.

import type { IncomingMessage } from 'node:http';
import type { ActiveHealthPolicy, Endpoint } from '../../core/model.ts';

// Node's modules are taken when a probe needs them (process.getBuiltinModule loads on first use):
// this runs on the main thread, where node:http2 (with node:tls and node:crypto behind it) and
// node:https are otherwise unused. node:http never as an ES import: see eslint.config.js.

export type Probe = (endpoint: Endpoint, policy: ActiveHealthPolicy) => Promise<boolean>;

const USER_AGENT = 'gatehouse-health-check';
/** An empty HealthCheckRequest (service ""), gRPC-framed: not compressed, length 0. */
const GRPC_HEALTH_REQUEST = Buffer.alloc(5);
/** HealthCheckResponse { status: SERVING } (field 1, varint 1). */
const SERVING = Buffer.from([0x08, 0x01]);

function hostPort(e: Endpoint): string {
  return e.address.includes(':') ? `[${e.address}]:${e.port}` : `${e.address}:${e.port}`;
}

function http1(e: Endpoint, policy: ActiveHealthPolicy, tls: boolean): Promise<boolean> {
  return new Promise((resolve) => {
    const options = { host: e.address, port: e.port, path: policy.path, method: 'GET', agent: false, headers: { host: hostPort(e), 'user-agent': USER_AGENT, connection: 'close' } } as const;
    const done = (res: IncomingMessage) => {
      res.resume();
      resolve(res.statusCode !== undefined && res.statusCode >= policy.statusMin && res.statusCode <= policy.statusMax);
      req.destroy();
    };
    const req = tls ? process.getBuiltinModule('node:https').request({ ...options, rejectUnauthorized: false }, done) : process.getBuiltinModule('node:http').request(options, done);
    const timer = setTimeout(() => req.destroy(new Error('health check timed out')), policy.timeoutMs);
    req.on('error', () => resolve(false));
    req.on('close', () => clearTimeout(timer));
    req.end();
  });
}

function http2(e: Endpoint, policy: ActiveHealthPolicy): Promise<boolean> {
  const { connect: http2Connect, constants: h2 } = process.getBuiltinModule('node:http2');
  const grpc = policy.protocol === 'GRPC' || policy.protocol === 'GRPCS';
  const scheme = policy.protocol === 'GRPCS' ? 'https' : 'http';
  return new Promise((resolve) => {
    let settled = false;
    const finish = (ok: boolean) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(ok);
      session.destroy();
    };
    const session = http2Connect(`${scheme}://${hostPort(e)}`, scheme === 'https' ? { rejectUnauthorized: false, ALPNProtocols: ['h2'] } : {});
    const timer = setTimeout(() => finish(false), policy.timeoutMs);
    session.on('error', () => finish(false));
    const headers = grpc
      ? { [h2.HTTP2_HEADER_METHOD]: 'POST', [h2.HTTP2_HEADER_PATH]: '/grpc.health.v1.Health/Check', [h2.HTTP2_HEADER_AUTHORITY]: hostPort(e), 'content-type': 'application/grpc', te: 'trailers', 'user-agent': USER_AGENT }
      : { [h2.HTTP2_HEADER_METHOD]: 'GET', [h2.HTTP2_HEADER_PATH]: policy.path, [h2.HTTP2_HEADER_AUTHORITY]: hostPort(e), 'user-agent': USER_AGENT };
    const stream = session.request(headers, { endStream: !grpc });
    stream.on('error', () => finish(false));
    if (!grpc) {
      stream.on('response', (h) => {
        const status = Number(h[h2.HTTP2_HEADER_STATUS]);
        finish(status >= policy.statusMin && status <= policy.statusMax);
      });
      return;
    }
    stream.end(GRPC_HEALTH_REQUEST);
    const chunks: Buffer[] = [];
    stream.on('data', (c: Buffer) => chunks.push(c));
    // SERVING and grpc-status 0 in the trailers; a Trailers-Only answer is an error.
    stream.on('trailers', (t) => {
      const body = Buffer.concat(chunks);
      finish(t['grpc-status'] === '0' && body.length === 5 + SERVING.length && body.subarray(5).equals(SERVING));
    });
    stream.on('close', () => finish(false));
  });
}

/** Probes `endpoint` once as `policy` says: true when it passes. */
export const probe: Probe = (endpoint, policy) => {
  switch (policy.protocol) {
    case 'HTTP':
      return http1(endpoint, policy, false);
    case 'HTTPS':
      return http1(endpoint, policy, true);
    default:
      return http2(endpoint, policy);
  }
};
