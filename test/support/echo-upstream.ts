// An upstream for end-to-end tests: an HTTP server on 127.0.0.1 that answers with its name and
// what it received, so a test can tell which upstream served a request and what the proxy sent.
// It also speaks WebSocket (echoing each message prefixed with its name).
//
// Answer (JSON, 200): { name, method, url, headers: [[name, value], ...] (raw, in order),
// bodyLength, bodySha256 }. Special paths, matched at the END of the path so they work under any
// route prefix (`/api/__delay/100` is a delay too):
//   …/__delay/<ms>    read the body, wait <ms>, then answer as usual
//   …/__hold          read the body, then wait for echo.release() and answer as usual: a request
//                     kept in flight for exactly as long as the test needs, however slow the machine
//   …/__status/<code> answer as usual, with that status (with ?only=<name>: only if this is <name>,
//                     else 200)
//   …/__reset         destroy the socket (TCP RST) without answering (?only=<name>: only if this is
//                     <name>, else answer as usual; ?read=1: after reading the whole body)
//   …/__stall         read nothing and never answer: the request body backs up to the sender
//   …/__stream/<n>    200 text/plain, n chunks "chunk <i>\n", one every ?every=<ms> (default 100)
//   …/__echo          stream the request body straight back (application/octet-stream)
//   …/__hop           answer with hop-by-hop response headers: Connection: x-custom, X-Custom: 1,
//                     Keep-Alive: timeout=5, Proxy-Connection: keep-alive, and X-End-To-End: kept
//   …/__cookies       answer with two Set-Cookie headers (a=1, b=2)
//   …/__health        answer as usual, with the status echo.healthStatus says (default 200;
//                     tests switch it to take the upstream out of active health checks)

import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { WebSocketServer } from 'ws';

export interface Received {
  readonly method: string;
  /** The request-target exactly as it arrived. */
  readonly url: string;
  /** Raw header pairs in arrival order, names as sent. */
  readonly headers: readonly (readonly [string, string])[];
  readonly upgrade: boolean;
  /** Filled in once the request body has been read. */
  bodyLength: number;
  bodySha256: string;
  /** True once this upstream finished answering (or gave up on the socket). */
  finished: boolean;
}

/** The JSON body of an ordinary answer. */
export interface EchoReply {
  readonly name: string;
  readonly method: string;
  readonly url: string;
  readonly headers: readonly (readonly [string, string])[];
  readonly bodyLength: number;
  readonly bodySha256: string;
}

export interface Echo {
  readonly name: string;
  readonly port: number;
  /** `http://<host>:<port>`, 127.0.0.1 unless EchoOptions.host says otherwise. */
  readonly url: string;
  /** Every request (and upgrade) this upstream saw, oldest first. */
  readonly received: Received[];
  /** Answers every request waiting at `…/__hold` (later ones wait for the next call); returns how many. */
  release(): number;
  /** TCP connections open to this upstream now. */
  openConnections(): number;
  /** TCP connections accepted so far. */
  readonly connectionsAccepted: number;
  /** The status of `…/__health` answers (default 200). */
  healthStatus: number;
  /** Stops listening and cuts every connection. Safe to call twice. */
  close(): Promise<void>;
}

export interface EchoOptions {
  readonly name: string;
  /** Port to listen on; default 0 (ephemeral). */
  readonly port?: number;
  /** IPv4 address to listen on; default 127.0.0.1. */
  readonly host?: string;
  /** Node's keepAliveTimeout (it sends `Keep-Alive: timeout=<s>` with it); default 30 s. */
  readonly keepAliveTimeoutMs?: number;
  /**
   * Close a kept-alive connection idle this long, without a `Keep-Alive: timeout=` hint (as Go's
   * and nginx's servers do); replaces keepAliveTimeoutMs.
   */
  readonly idleCloseMs?: number;
  /** Every ordinary answer waits this long after the body is read, as …/__delay/<ms> (a slow endpoint); default 0. */
  readonly delayMs?: number;
}

/** All values of header `name` (case-insensitive) in raw pairs. */
export function headerValues(headers: readonly (readonly [string, string])[], name: string): string[] {
  const lower = name.toLowerCase();
  return headers.filter(([n]) => n.toLowerCase() === lower).map(([, v]) => v);
}

function pairs(raw: readonly string[]): [string, string][] {
  const out: [string, string][] = [];
  for (let i = 0; i < raw.length; i += 2) out.push([raw[i]!, raw[i + 1]!]);
  return out;
}

function pathOf(url: string): string {
  const q = url.indexOf('?');
  return q === -1 ? url : url.slice(0, q);
}

function queryParam(url: string, key: string): string | null {
  const q = url.indexOf('?');
  return q === -1 ? null : new URLSearchParams(url.slice(q + 1)).get(key);
}

export async function startEcho(options: EchoOptions): Promise<Echo> {
  const { name, host = '127.0.0.1', delayMs = 0 } = options;
  const received: Received[] = [];
  const timers = new Set<NodeJS.Timeout>();
  /** The idle-close timer of each connection (idleCloseMs). */
  const idle = new Map<Socket, NodeJS.Timeout>();
  const sockets = new Set<Socket>();
  let connectionsAccepted = 0;
  const held = new Set<() => void>();
  const later = (ms: number, fn: () => void) => {
    const t = setTimeout(() => {
      timers.delete(t);
      fn();
    }, ms);
    timers.add(t);
  };

  const reply = (res: ServerResponse, rec: Received, status = 200, extra: Record<string, string> = {}) => {
    if (res.destroyed) return void (rec.finished = true);
    const body: EchoReply = { name, method: rec.method, url: rec.url, headers: rec.headers, bodyLength: rec.bodyLength, bodySha256: rec.bodySha256 };
    res.writeHead(status, { 'content-type': 'application/json', 'x-echo-name': name, ...extra });
    res.end(JSON.stringify(body), () => (rec.finished = true));
  };

  /** Reads the whole body into the record's length and hash, then calls `done`. */
  const consume = (req: IncomingMessage, rec: Received, done: () => void) => {
    const hash = createHash('sha256');
    req.on('data', (c: Buffer) => {
      hash.update(c);
      rec.bodyLength += c.length;
    });
    req.on('end', () => {
      rec.bodySha256 = hash.digest('hex');
      done();
    });
    req.on('error', () => (rec.finished = true));
  };

  // keepAliveTimeout 0: Node neither times idle connections out nor sends the hint.
  const server = createServer({ keepAliveTimeout: options.idleCloseMs !== undefined ? 0 : (options.keepAliveTimeoutMs ?? 30_000) }, (req, res) => {
    const url = req.url ?? '';
    const rec: Received = { method: req.method ?? '', url, headers: pairs(req.rawHeaders), upgrade: false, bodyLength: 0, bodySha256: '', finished: false };
    received.push(rec);
    const path = pathOf(url);
    const only = queryParam(url, 'only');
    const mine = only === null || only === name;
    let m: RegExpExecArray | null;

    if (options.idleCloseMs !== undefined) {
      const socket = req.socket;
      clearTimeout(idle.get(socket));
      res.once('finish', () => idle.set(socket, setTimeout(() => socket.destroy(), options.idleCloseMs)));
    }
    if (path.endsWith('/__reset') && mine) {
      const reset = () => {
        rec.finished = true;
        (req.socket as Socket).resetAndDestroy();
      };
      if (queryParam(url, 'read') === '1') consume(req, rec, reset);
      else reset();
      return;
    }
    if (path.endsWith('/__stall')) return;
    if (path.endsWith('/__health')) return consume(req, rec, () => reply(res, rec, echo.healthStatus));
    if (path.endsWith('/__echo')) {
      const hash = createHash('sha256');
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'x-echo-name': name });
      res.flushHeaders();
      req.on('data', (c: Buffer) => {
        hash.update(c);
        rec.bodyLength += c.length;
      });
      req.on('end', () => (rec.bodySha256 = hash.digest('hex')));
      req.pipe(res);
      res.on('finish', () => (rec.finished = true));
      res.on('close', () => (rec.finished = true));
      return;
    }
    if ((m = /\/__stream\/(\d+)$/.exec(path)) !== null) {
      const n = Number(m[1]);
      const every = Number(queryParam(url, 'every') ?? 100);
      consume(req, rec, () => {
        res.writeHead(200, { 'content-type': 'text/plain', 'x-echo-name': name });
        res.flushHeaders();
        let i = 0;
        const next = () => {
          if (res.destroyed) return void (rec.finished = true);
          if (i === n) return void res.end(() => (rec.finished = true));
          res.write(`chunk ${i++}\n`);
          later(every, next);
        };
        next();
      });
      return;
    }
    if (path.endsWith('/__hold')) {
      // Held from arrival (release() right after `received` shows it lets it go), answered once the body is read too.
      let consumed = false;
      let released = false;
      const answer = () => {
        if (consumed && released) reply(res, rec);
      };
      held.add(() => {
        released = true;
        answer();
      });
      consume(req, rec, () => {
        consumed = true;
        answer();
      });
      return;
    }
    if ((m = /\/__delay\/(\d+)$/.exec(path)) !== null) {
      const ms = Number(m[1]);
      consume(req, rec, () => later(ms, () => reply(res, rec)));
      return;
    }
    if ((m = /\/__status\/(\d{3})$/.exec(path)) !== null) {
      const status = mine ? Number(m[1]) : 200;
      consume(req, rec, () => reply(res, rec, status));
      return;
    }
    if (path.endsWith('/__hop')) {
      consume(req, rec, () =>
        reply(res, rec, 200, { connection: 'x-custom', 'x-custom': '1', 'keep-alive': 'timeout=5', 'proxy-connection': 'keep-alive', 'x-end-to-end': 'kept' }),
      );
      return;
    }
    if (path.endsWith('/__cookies')) {
      consume(req, rec, () => {
        res.setHeader('set-cookie', ['a=1; Path=/', 'b=2; Path=/']);
        reply(res, rec);
      });
      return;
    }
    consume(req, rec, () => (delayMs > 0 ? later(delayMs, () => reply(res, rec)) : reply(res, rec)));
  });

  server.on('connection', (socket: Socket) => {
    connectionsAccepted++;
    sockets.add(socket);
    socket.once('close', () => {
      sockets.delete(socket);
      clearTimeout(idle.get(socket));
      idle.delete(socket);
    });
  });

  const wss = new WebSocketServer({ noServer: true });
  server.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => {
    received.push({ method: req.method ?? '', url: req.url ?? '', headers: pairs(req.rawHeaders), upgrade: true, bodyLength: 0, bodySha256: '', finished: false });
    socket.on('error', () => socket.destroy());
    wss.handleUpgrade(req, socket, head, (ws) => {
      ws.on('message', (data, isBinary) => ws.send(`${name}:${isBinary ? `<${(data as Buffer).length} bytes>` : String(data)}`));
      ws.on('error', () => ws.terminate());
    });
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ port: options.port ?? 0, host }, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as { port: number }).port;

  let closing: Promise<void> | null = null;
  const echo: Echo = {
    healthStatus: 200,
    name,
    port,
    url: `http://${host}:${port}`,
    received,
    release() {
      const waiting = [...held];
      held.clear();
      for (const answer of waiting) answer();
      return waiting.length;
    },
    openConnections: () => sockets.size,
    get connectionsAccepted() {
      return connectionsAccepted;
    },
    close: () =>
      (closing ??= new Promise<void>((resolve) => {
        for (const t of [...timers, ...idle.values()]) clearTimeout(t);
        timers.clear();
        idle.clear();
        held.clear();
        for (const client of wss.clients) client.terminate();
        wss.close();
        server.close(() => resolve());
        server.closeAllConnections();
      })),
  };
  return echo;
}

/** Several echo upstreams at once, by name. */
export async function startEchoes<N extends string>(names: readonly N[]): Promise<Record<N, Echo> & { closeAll(): Promise<void> }> {
  const echoes = await Promise.all(names.map((name) => startEcho({ name })));
  const out = Object.fromEntries(echoes.map((e) => [e.name, e])) as Record<N, Echo>;
  return Object.assign(out, { closeAll: async () => void (await Promise.all(echoes.map((e) => e.close()))) });
}
