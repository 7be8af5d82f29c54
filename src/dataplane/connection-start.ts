// Reading the first bytes of a new connection before its server sees it: the PROXY protocol
// header (proxy-protocol-intake.ts), then the TLS ClientHello's SNI (tls/client-auth-servers.ts).
// Each takes the server's own 'connection' handling out, reads until its parser has what it needs,
// and hands the connection on with every byte read put back in front (unshift).

import type { Server, Socket } from 'node:net';

type ConnectionListener = (this: Server, socket: Socket) => void;

/**
 * Puts `intercept` in front of `server`'s own connection handling (the listeners it has now): it
 * calls `handOver` when the server may have the socket. Installed twice, the later one runs first.
 */
export function interceptConnections(server: Server, intercept: (socket: Socket, handOver: (socket: Socket) => void) => void): void {
  const own = server.listeners('connection') as ConnectionListener[];
  server.removeAllListeners('connection');
  const handOver = (socket: Socket) => {
    for (const listener of own) listener.call(server, socket);
  };
  server.on('connection', (socket: Socket) => intercept(socket, handOver));
}

export interface StartReader<T> {
  /** The bytes so far → what was read, or undefined while more are needed. */
  readonly parse: (received: Buffer) => T | undefined;
  readonly timeoutMs: number;
  /** Called once, inside the 'data' event that completed it (the caller pauses and unshifts). */
  readonly done: (received: Buffer, read: T) => void;
  /** The connection ended, failed or timed out first; the caller closes it. */
  readonly gone: (why: 'end' | 'error' | 'timeout') => void;
  /** Holds the socket while it is read (the drain closes them). */
  readonly pending: Set<Socket>;
}

/** Reads the start of `socket` (flowing again if it was handed over paused). */
export function readStart<T>(socket: Socket, r: StartReader<T>): void {
  r.pending.add(socket);
  let received: Buffer = Buffer.alloc(0);
  const stop = () => {
    clearTimeout(timer);
    socket.off('data', onData);
    socket.off('end', onEnd);
    socket.off('error', onError);
    socket.off('close', stop);
    r.pending.delete(socket);
  };
  const onData = (chunk: Buffer) => {
    received = received.length === 0 ? chunk : Buffer.concat([received, chunk]);
    const read = r.parse(received);
    if (read === undefined) return;
    stop();
    r.done(received, read);
  };
  const onEnd = () => {
    stop();
    r.gone('end');
  };
  const onError = () => {
    stop();
    r.gone('error');
  };
  const timer = setTimeout(() => {
    stop();
    r.gone('timeout');
  }, r.timeoutMs);
  socket.on('data', onData);
  socket.on('end', onEnd);
  socket.on('error', onError);
  socket.on('close', stop);
  socket.resume();
}
