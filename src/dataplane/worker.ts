// A data-plane worker thread: builds its own router from each table it is sent, swaps one
// reference, and proxies. Requests in flight finish on the generation they started with.
// It listens (with reusePort, so the kernel spreads connections over the pool) only once it
// has a table, so it never answers from an empty one.

import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { parentPort, workerData } from 'node:worker_threads';
import type { FromWorker, ToWorker, WorkerConfig } from '../control/messages.ts';
import type { EndpointTable, RouteTable } from '../core/model.ts';
import { createLog } from '../observability/log.ts';
import { clientIp, type Forwarded } from './proxy/headers.ts';
import { Proxy, sendError } from './proxy/proxy.ts';
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

function onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
  socket.on('error', () => socket.destroy());
  const url = req.url ?? '';
  const match = url.charCodeAt(0) === 47 ? router!.lookup(req.headers.host ?? '', url) : null;
  if (match?.backend == null) {
    socket.end('HTTP/1.1 404 Not Found\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 14\r\nConnection: close\r\n\r\n404 Not Found\n');
    return;
  }
  proxy.upgrade(req, socket, head, match.backend, forwarded(req));
}

const server = createServer({ keepAliveTimeout: 75_000, headersTimeout: 60_000, requestTimeout: 0 }, onRequest);
server.on('upgrade', onUpgrade);
server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => {
  // Malformed requests get a 400 (Node's default), never a crash.
  if (err.code === 'ECONNRESET' || !socket.writable) return void socket.destroy();
  socket.end('HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 16\r\nConnection: close\r\n\r\n400 Bad Request\n');
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

function applyTable(table: RouteTable): void {
  router = new Router(table);
  generation = table.generation;
}

function applyEndpoints(endpoints: EndpointTable): void {
  proxy.setEndpoints(endpoints);
  endpointsFingerprint = endpoints.fingerprint;
}

function drain(graceMs: number): void {
  if (draining) return;
  draining = true;
  const done = () => {
    clearInterval(idle);
    clearTimeout(deadline);
    send({ type: 'drained' });
  };
  // Stop accepting; idle keep-alive connections close now, busy ones after their response
  // (which carries `Connection: close`); what is still open at the deadline is cut.
  server.close(done);
  const idle = setInterval(() => server.closeIdleConnections(), 100);
  const deadline = setTimeout(() => server.closeAllConnections(), graceMs);
  if (!listening) done();
}

port.on('message', (m: ToWorker) => {
  try {
    if (m.type === 'table') applyTable(m.table);
    else if (m.type === 'endpoints') applyEndpoints(m.endpoints);
    else if (m.type === 'drain') return drain(m.graceMs);
  } catch (err) {
    // A table this worker cannot build must not take it down; it keeps the last good one.
    log.error({ err }, 'could not apply update; keeping the previous one');
    return;
  }
  if (router === null || endpointsFingerprint === null) return;
  if (!listening) listen();
  else send({ type: 'ack', generation, endpoints: endpointsFingerprint });
});
