// Client helpers for end-to-end tests: undici requests whose path is sent exactly as written
// (no URL normalisation), and a raw-socket exchange for requests no well-behaved client sends.

import { connect } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Dispatcher } from 'undici';

export interface Reply {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly text: string;
}

export interface SendOptions {
  readonly method?: string;
  /** Host header; default: the origin's host:port. */
  readonly host?: string;
  readonly headers?: Record<string, string | string[]>;
  readonly body?: string | Buffer;
}

/** One request over `dispatcher`; the path goes on the wire as written. */
export async function send(dispatcher: Dispatcher, origin: string, path: string, options: SendOptions = {}): Promise<Reply> {
  const headers: Record<string, string | string[]> = { ...options.headers };
  if (options.host !== undefined) headers.host = options.host;
  const res = await dispatcher.request({ origin, path, method: (options.method ?? 'GET') as Dispatcher.HttpMethod, headers, body: options.body });
  const text = await res.body.text();
  return { status: res.statusCode, headers: res.headers, text };
}

/** The upstream name in an echo answer (its JSON `name`), or null for any other answer. */
export function servedBy(reply: Reply): string | null {
  const v = reply.headers['x-echo-name'];
  return typeof v === 'string' ? v : null;
}

export interface RawReply {
  readonly status: number;
  /** Lower-case names; repeated headers keep every value. */
  readonly headers: Map<string, string[]>;
  readonly body: string;
  /** Everything read from the socket. */
  readonly raw: string;
  /** The server closed the connection after answering. */
  readonly closed: boolean;
}

/**
 * Writes `data` on a fresh connection to `target` (a port on 127.0.0.1), or on a connected
 * socket, and reads one response (by Content-Length, chunked framing, or until the server
 * closes). Rejects on timeout or when nothing parseable came back.
 */
export function rawExchange(target: number | Duplex, data: string | Buffer, timeoutMs = 5000): Promise<RawReply> {
  return new Promise((resolve, reject) => {
    const socket = typeof target === 'number' ? connect({ port: target, host: '127.0.0.1' }) : target;
    let buf = Buffer.alloc(0);
    let settled = false;
    let closed = false;
    const finish = (err: Error | null, reply?: RawReply) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      if (err) reject(err);
      else resolve(reply!);
    };
    const timer = setTimeout(() => finish(new Error(`raw exchange: no complete response in ${timeoutMs} ms; got ${JSON.stringify(buf.toString('latin1').slice(0, 200))}`)), timeoutMs);
    const tryParse = (atEnd: boolean) => {
      const text = buf.toString('latin1');
      const end = text.indexOf('\r\n\r\n');
      if (end === -1) {
        if (atEnd) finish(new Error(`raw exchange: connection closed before a response; got ${JSON.stringify(text.slice(0, 200))}`));
        return;
      }
      const lines = text.slice(0, end).split('\r\n');
      const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(lines[0] ?? '')?.[1] ?? NaN);
      const headers = new Map<string, string[]>();
      for (const line of lines.slice(1)) {
        const colon = line.indexOf(':');
        const name = line.slice(0, colon).trim().toLowerCase();
        const list = headers.get(name) ?? [];
        list.push(line.slice(colon + 1).trim());
        headers.set(name, list);
      }
      const rest = buf.subarray(Buffer.byteLength(text.slice(0, end + 4), 'latin1'));
      const length = headers.get('content-length')?.[0];
      let body: Buffer | null = null;
      if (length !== undefined) {
        if (rest.length >= Number(length)) body = rest.subarray(0, Number(length));
      } else if (headers.get('transfer-encoding')?.[0]?.toLowerCase() === 'chunked') {
        body = dechunk(rest);
      } else if (atEnd) {
        body = rest;
      }
      if (body === null) {
        if (atEnd) finish(new Error('raw exchange: connection closed mid-body'));
        return;
      }
      finish(null, { status, headers, body: body.toString('utf8'), raw: text, closed });
    };
    socket.on('data', (c: Buffer) => {
      buf = Buffer.concat([buf, c]);
      tryParse(false);
    });
    socket.on('end', () => {
      closed = true;
      tryParse(true);
    });
    socket.on('close', () => {
      closed = true;
      tryParse(true);
    });
    socket.on('error', (err) => {
      if (buf.length > 0) tryParse(true);
      else finish(err);
    });
    socket.write(data);
  });
}

/** Chunked body, or null while incomplete. */
function dechunk(b: Buffer): Buffer | null {
  const parts: Buffer[] = [];
  let i = 0;
  for (;;) {
    const lineEnd = b.indexOf('\r\n', i);
    if (lineEnd === -1) return null;
    const size = parseInt(b.subarray(i, lineEnd).toString('latin1'), 16);
    if (Number.isNaN(size)) return null;
    if (size === 0) return b.indexOf('\r\n', lineEnd + 2) === -1 ? null : Buffer.concat(parts);
    if (b.length < lineEnd + 2 + size + 2) return null;
    parts.push(b.subarray(lineEnd + 2, lineEnd + 2 + size));
    i = lineEnd + 2 + size + 2;
  }
}
