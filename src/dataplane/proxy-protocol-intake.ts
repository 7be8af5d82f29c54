// use-proxy-protocol on a listener: every new connection must start with a PROXY protocol header
// (proxy-protocol.ts), read here before the server sees the connection. The server's own
// 'connection' handling (node:http's parser, or node:tls's handshake for the HTTPS listener) is
// taken out and called once the header is read, with the bytes after it put back (unshift), so
// TLS is parsed after the header, as HAProxy and nginx do. A connection that sends no valid
// header within the timeout is closed, never answered.
//
// The setting travels with each table, so it switches live: connections accepted after a change
// follow it, connections already open keep what they started with. Off, a new connection goes
// straight to the server's own handling.

import type { Server, Socket } from 'node:net';
import { parseProxyHeader, type ProxiedAddress } from './proxy-protocol.ts';
import { interceptConnections, readStart } from './connection-start.ts';

export interface ProxyProtocolSetting {
  /** How long a new connection has to send its header (proxy-protocol-header-timeout). */
  readonly headerTimeoutMs: number;
}

export class ProxyProtocolIntake {
  private setting: ProxyProtocolSetting | null = null;
  /** The header's addresses, by the connection's socket. */
  private readonly addresses = new WeakMap<object, ProxiedAddress>();
  /** Whether any connection ever had a header (until then addressOf looks nothing up). */
  private used = false;
  /** Connections still sending their header. */
  private readonly pending = new Set<Socket>();
  private readonly onRefused: (reason: string, peer: string | undefined) => void;

  constructor(onRefused: (reason: string, peer: string | undefined) => void) {
    this.onRefused = onRefused;
  }

  /** use-proxy-protocol on (with its timeout) or off (null), for connections accepted from now on. */
  set(setting: ProxyProtocolSetting | null): void {
    this.setting = setting;
  }

  /**
   * Puts the header read in front of `server`'s own connection handling. `resume`: the server
   * reads the socket as a stream that must be resumed to see the bytes put back (node:http);
   * node:tls reads them itself when it wraps the socket.
   */
  install(server: Server, resume: boolean): void {
    interceptConnections(server, (socket, handOver) => {
      const setting = this.setting;
      if (setting === null) return handOver(socket);
      this.read(socket, setting, (rest) => {
        // Still inside our 'data' event: pause, so no further chunk flows to nobody before the
        // server's own reader is attached; the bytes after the header go back in front.
        socket.pause();
        if (rest.length > 0) socket.unshift(rest);
        handOver(socket);
        if (resume) socket.resume();
      });
    });
  }

  private read(socket: Socket, setting: ProxyProtocolSetting, done: (rest: Buffer) => void): void {
    const refuse = (reason: string) => {
      this.onRefused(reason, socket.remoteAddress);
      socket.destroy();
    };
    readStart(socket, {
      parse: (received) => {
        const r = parseProxyHeader(received);
        return r.state === 'incomplete' ? undefined : r;
      },
      timeoutMs: setting.headerTimeoutMs,
      done: (received, r) => {
        if (r.state === 'invalid') return refuse(r.reason);
        if (r.address !== null) {
          this.addresses.set(socket, r.address);
          this.used = true;
        }
        done(received.subarray(r.length));
      },
      gone: (why) => {
        if (why === 'error') socket.destroy();
        else refuse(why === 'end' ? 'the connection ended before its PROXY protocol header' : `no PROXY protocol header within ${setting.headerTimeoutMs} ms`);
      },
      pending: this.pending,
    });
  }

  /**
   * The PROXY header's addresses for a connection: its socket, or the TLS socket over it (which
   * node:tls links to the TCP socket as `_parent`). Undefined: the setting was off, or the header
   * said to use the connection's own (LOCAL, UNKNOWN).
   */
  addressOf(socket: object | undefined): ProxiedAddress | undefined {
    if (!this.used || socket === undefined) return undefined;
    const parent = (socket as { _parent?: object })._parent;
    return this.addresses.get(socket) ?? (parent === undefined ? undefined : this.addresses.get(parent));
  }

  /** Closes the connections still sending their header (the drain: they have no request yet). */
  close(): void {
    for (const socket of this.pending) socket.destroy();
  }
}
