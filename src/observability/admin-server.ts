// The admin server on --status-port: /healthz (the process is alive), /readyz (every worker
// serves the first complete generation; 503 while draining), /metrics (Prometheus, metrics.ts),
// /debug/table (what is served).

import { createServer, type Server } from 'node:http';
import { CONTENT_TYPE } from './metrics.ts';

export interface AdminState {
  ready(): boolean;
  /** JSON-safe description of the workers and generations, for /readyz. */
  readiness(): unknown;
  /** JSON-safe table, endpoints, conditions and workers, for /debug/table. */
  debugTable(): unknown;
  /** The Prometheus text of /metrics. */
  metrics(): string;
}

function json(status: number, body: unknown): [number, Record<string, string>, string] {
  return [status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' }, `${JSON.stringify(body, null, 2)}\n`];
}

export function startAdminServer(state: AdminState, port: number, host: string): Promise<Server> {
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    const [status, headers, body] =
      req.method !== 'GET' && req.method !== 'HEAD' ? json(405, { error: 'method not allowed' })
      : path === '/healthz' ? json(200, { status: 'ok' })
      : path === '/readyz' ? json(state.ready() ? 200 : 503, state.readiness())
      : path === '/debug/table' ? json(200, state.debugTable())
      : path === '/metrics' ? [200, { 'content-type': CONTENT_TYPE, 'cache-control': 'no-store' }, state.metrics()]
      : json(404, { error: 'not found', paths: ['/healthz', '/readyz', '/metrics', '/debug/table'] });
    res.writeHead(status, headers);
    res.end(req.method === 'HEAD' ? undefined : body);
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ port, host }, () => {
      server.off('error', reject);
      resolve(server);
    });
  });
}
