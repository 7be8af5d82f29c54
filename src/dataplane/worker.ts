// A data-plane worker thread: builds its own router from each table it is sent, swaps one
// reference, and proxies. Requests in flight finish on the generation they started with.
// It listens (with reusePort, so the kernel spreads connections over the pool) only once it
// has a table, so it never answers from an empty one.

import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { parentPort, workerData } from 'node:worker_threads';
import type { FromWorker, ToWorker, WorkerConfig } from '../control/messages.ts';
import { createLog } from '../observability/log.ts';
import { clientIp, type Forwarded } from './proxy/headers.ts';
import { Proxy, sendError, sendRawError } from './proxy/proxy.ts';
import { Router } from './router/router.ts';

const config = workerData as WorkerConfig;
const log = createLog(config.logLevel, { component: 'worker', worker: config.id });
const port = parentPort!;
const send = (m: FromWorker) => port.postMessage(m);

let router: Router | null = null;
let generation = 0;
let endpointsFingerprint: string | null = null;
let draining = false;
const proxy = new Proxy({ connectTimeoutMs: config.connectTimeoutMs, readTimeoutMs: config.readTimeoutMs });

function forwarded(req: IncomingMessage): Forwarded {
  const socket = req.socket;
  return { clientIp: clientIp(socket.remoteAddress), proto: 'http', host: req.headers.host ?? '', port: socket.localPort ?? config.httpPort };
}

function onRequest(req: IncomingMessage, res: ServerResponse): void {
  if (draining) res.setHeader('connection', 'close');
  const url = req.url ?? '';
  // Origin-form only; absolute-form and `*` have no route (RFC 9112 §3.2).
  if (url.charCodeAt(0) !== 47 /* / */) return sendError(res, 400);
  const match = router!.lookup(req.headers.host ?? '', url);
  if (match.backend === null) return sendError(res, 404);
  proxy.web(req, res, match.backend, forwarded(req));
}

/** Upgraded connections (WebSockets) leave the HTTP server's books; the drain deadline cuts them. */
const upgraded = new Set<Duplex>();

function onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
  socket.on('error', () => socket.destroy());
  const url = req.url ?? '';
  if (url.charCodeAt(0) !== 47 /* / */) return sendRawError(socket, 400);
  const match = router!.lookup(req.headers.host ?? '', url);
  if (match.backend === null) return sendRawError(socket, 404);
  upgraded.add(socket);
  socket.once('close', () => {
    upgraded.delete(socket);
    checkDrained();
  });
  proxy.upgrade(req, socket, head, match.backend, forwarded(req));
}

// Node's own answers to requests it cannot parse, as ingress-nginx gives them.
const CLIENT_ERRORS: Record<string, number> = { HPE_HEADER_OVERFLOW: 431, ERR_HTTP_REQUEST_TIMEOUT: 408 };

const server = createServer({ keepAliveTimeout: 75_000, headersTimeout: 60_000, requestTimeout: 0 }, onRequest);
server.on('upgrade', onUpgrade);
server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => {
  // A request that does not parse gets a small error answer, never a crash.
  if (err.code === 'ECONNRESET') return void socket.destroy();
  sendRawError(socket, CLIENT_ERRORS[err.code ?? ''] ?? 400);
});

let listening = false;
function listen(): void {
  listening = true;
  server.once('error', (err) => {
    log.error({ err }, 'listen failed');
    send({ type: 'listen-failed', message: `cannot listen on ${config.bindAddress}:${config.httpPort}: ${err.message}` });
  });
  server.listen({ port: config.httpPort, host: config.bindAddress, reusePort: true, backlog: 1024 }, () => {
    log.debug({ port: config.httpPort }, 'listening');
    send({ type: 'ack', generation, endpoints: endpointsFingerprint ?? '' });
  });
}

let httpClosed = false;
let drainDone: (() => void) | null = null;

/** Drained once the HTTP server closed and every upgraded connection ended. */
function checkDrained(): void {
  if (drainDone !== null && httpClosed && upgraded.size === 0) drainDone();
}

function drain(graceMs: number): void {
  if (draining) return;
  draining = true;
  const idle = setInterval(() => server.closeIdleConnections(), 100);
  const deadline = setTimeout(() => {
    server.closeAllConnections();
    for (const s of upgraded) s.destroy();
  }, graceMs);
  drainDone = () => {
    drainDone = null;
    clearInterval(idle);
    clearTimeout(deadline);
    send({ type: 'drained' });
  };
  // Stop accepting; idle keep-alive connections close now, busy ones after their response
  // (which carries `Connection: close`); what is still open at the deadline is cut.
  if (listening) {
    server.close(() => {
      httpClosed = true;
      checkDrained();
    });
  } else httpClosed = true;
  checkDrained();
}

port.on('message', (m: ToWorker) => {
  try {
    if (m.type === 'drain') return drain(m.graceMs);
    // Build first, then swap both references together.
    const next = m.table ? new Router(m.table) : router;
    if (m.endpoints) {
      proxy.setEndpoints(m.endpoints);
      endpointsFingerprint = m.endpoints.fingerprint;
    }
    if (m.table) {
      router = next;
      generation = m.table.generation;
    }
  } catch (err) {
    // A table this worker cannot build must not take it down; it keeps the last good one.
    log.error({ err }, 'could not apply update; keeping the previous one');
    return;
  }
  if (router === null || endpointsFingerprint === null) return;
  if (!listening) listen();
  else send({ type: 'ack', generation, endpoints: endpointsFingerprint });
});
