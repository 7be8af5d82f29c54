// The admin server on --status-port, bound to --status-bind-address (127.0.0.1 outside a
// cluster; deploy/ binds the pod IP and a NetworkPolicy limits who reaches it): /healthz (the
// process is alive), /readyz (every worker serves the first complete generation; 503 while
// draining), /metrics (Prometheus text, metrics.ts), /debug/table (what is served), /debug/explain?url= (what happens to one URL,
// observability/explain.ts), /debug/state (what the dashboard shows) and /dashboard (a read-only
// page: static files beside this one, no build step, no external requests).
//
// Nothing here is ever Secret material: the table holds `namespace/name` references only, and the
// control plane ships Secret data to the workers apart from it (test/e2e/admin-safety.test.ts).

import { readFileSync } from 'node:fs';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
// explain.ts is imported on the first /debug/explain: it brings the router, the request pipeline
// and the proxy behind it, which the main thread otherwise has no use for (keeping them and undici
// out of the main thread saved 9 MB idle, measured here).
import type { ExplainState } from './explain.ts';
import { CONTENT_TYPE } from './metrics.ts';

// node:http through getBuiltinModule, not an import: see eslint.config.js (its WebSocket getter).
const { createServer } = process.getBuiltinModule('node:http');

export interface AdminState {
  ready(): boolean;
  /** JSON-safe description of the workers and generations, for /readyz. */
  readiness(): unknown;
  /** JSON-safe table, endpoints, conditions and workers, for /debug/table. */
  debugTable(): unknown;
  /** The Prometheus text of /metrics. */
  metrics(): string;
  /** What /debug/explain reads; null before the first table. */
  explainState(): ExplainState | null;
  /** JSON-safe summary for the dashboard, for /debug/state. */
  dashboardState(): unknown;
}

type Answer = [number, Record<string, string>, string];

function json(status: number, body: unknown): Answer {
  return [status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' }, `${JSON.stringify(body, null, 2)}\n`];
}

// The page may load only its own files and fetch only this server (no CDN, no fonts, no frames).
const PAGE_HEADERS = {
  'cache-control': 'no-store',
  'x-content-type-options': 'nosniff',
  'content-security-policy': "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
};

const DASHBOARD_FILES: Readonly<Record<string, readonly [string, string]>> = {
  '/dashboard': ['index.html', 'text/html; charset=utf-8'],
  '/dashboard/': ['index.html', 'text/html; charset=utf-8'],
  '/dashboard/app.js': ['app.js', 'text/javascript; charset=utf-8'],
  '/dashboard/style.css': ['style.css', 'text/css; charset=utf-8'],
};

/** The dashboard's files, read once at start (they ship in src/, beside this module). */
function loadDashboard(): Map<string, Answer> {
  const out = new Map<string, Answer>();
  for (const [path, [file, type]] of Object.entries(DASHBOARD_FILES)) {
    out.set(path, [200, { 'content-type': type, ...PAGE_HEADERS }, readFileSync(new URL(`./dashboard/${file}`, import.meta.url), 'utf8')]);
  }
  return out;
}

const PATHS = ['/healthz', '/readyz', '/metrics', '/debug/table', '/debug/explain?url=', '/debug/state', '/dashboard'];

async function explainAnswer(state: AdminState, query: URLSearchParams): Promise<Answer> {
  const url = query.get('url');
  if (url === null || url === '') return json(400, { error: 'expected ?url=https://host/path (and &format=text for text)' });
  const s = state.explainState();
  if (s === null) return json(503, { error: 'no route table yet' });
  const { explain, renderExplanation } = await import('./explain.ts');
  const result = explain(s, url);
  if (query.get('format') === 'text') return [('error' in result ? 400 : 200), { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' }, renderExplanation(result)];
  return json('error' in result ? 400 : 200, result);
}

/** The admin server's listeners: one port, on each address asked for. */
export interface AdminServer {
  readonly port: number;
  /** Safe to call twice. */
  close(): Promise<void>;
}

/** Listens on `hosts[0]` at `port` (0: any), then on the other hosts at the same port. */
export async function startAdminServer(state: AdminState, port: number, hosts: readonly string[]): Promise<AdminServer> {
  const dashboard = loadDashboard();
  const handler = (req: IncomingMessage, res: ServerResponse) => {
    const target = req.url ?? '/';
    const q = target.indexOf('?');
    const path = q === -1 ? target : target.slice(0, q);
    const search = q === -1 ? '' : target.slice(q + 1);
    const answer: Answer | Promise<Answer> =
      req.method !== 'GET' && req.method !== 'HEAD' ? json(405, { error: 'method not allowed' })
      : path === '/healthz' ? json(200, { status: 'ok' })
      : path === '/readyz' ? json(state.ready() ? 200 : 503, state.readiness())
      : path === '/debug/table' ? json(200, state.debugTable())
      : path === '/metrics' ? [200, { 'content-type': CONTENT_TYPE, 'cache-control': 'no-store' }, state.metrics()]
      : path === '/debug/explain' ? explainAnswer(state, new URLSearchParams(search))
      : path === '/debug/state' ? json(200, state.dashboardState())
      : (dashboard.get(path) ?? json(404, { error: 'not found', paths: PATHS }));
    const send = ([status, headers, body]: Answer) => {
      res.writeHead(status, headers);
      res.end(req.method === 'HEAD' ? undefined : body);
    };
    if (Array.isArray(answer)) send(answer);
    else answer.then(send, (err: Error) => send(json(500, { error: err.message })));
  };
  const servers: Server[] = [];
  const closeAll = () => Promise.all(servers.map((s) => new Promise<void>((r) => s.close(() => r())))).then(() => undefined);
  let bound = port;
  try {
    for (const host of hosts) {
      const server = createServer(handler);
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen({ port: bound, host }, () => {
          server.off('error', reject);
          resolve();
        });
      });
      servers.push(server);
      bound = (server.address() as AddressInfo).port;
    }
  } catch (err) {
    await closeAll();
    throw err;
  }
  let closing: Promise<void> | null = null;
  return { port: bound, close: () => (closing ??= closeAll()) };
}
