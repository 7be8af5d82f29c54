// Client certificates per host (auth-tls-*): the TLS handshake asks for one only for the hosts
// whose auth-tls-verify-client is on, optional or optional_no_ca, chosen by SNI, and every
// connection to such a host is verified against that host's CA bundle, with no session resumed.
//
// Why a server of its own per host, chosen by reading the ClientHello's SNI before TLS begins
// (client-hello.ts), rather than the HTTPS server's SNICallback (measured on Node 24): the callback
// can ask for a certificate (`this._handle.setVerifyMode`) and hand over a context with the CA, but
// Node applies an SNI context by copying its certificate, key and CA store into the connection
// (TLSWrap UseSNIContext/SetCACerts); the connection keeps the listening server's SSL_CTX. So its
// session tickets are sealed with the server's keys and carry its session-id context, and a
// ticket issued on a host with client certificates resumes, on that host or any other, without
// the callback running (OpenSSL skips the certificate callback on resumption), with the original
// verification result and certificate whatever the host's CA bundle is now; and nothing on one
// connection can keep a ticket from being issued. A server of its own has its own SSL_CTX:
// `requestCert` with the host's bundle as its only trust store (never Node's public roots),
// tickets off (SSL_OP_NO_TICKET; Node keeps no server session cache), so every connection is a
// full handshake verified now, and a ticket from another host's server cannot be used on it.
//
// Connections whose SNI names no such host go, untouched, to the HTTPS server's own handling; when
// no host asks for certificates, no ClientHello is read at all. Each server serves one
// (certificate, host, CA bundle); a new bundle or certificate makes a new server for new
// connections, and open connections keep theirs (the request step then answers 421: their
// verification is not the current bundle's). The servers never listen: connections are handed
// to them ('connection' event), so the listening server still counts them for the drain.

import { constants } from 'node:crypto';
import type { Http2SecureServer, SecureServerOptions } from 'node:http2';
import type { Server, Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { CertStore } from './cert-store.ts';
import { readClientHello } from './client-hello.ts';
import { interceptConnections, readStart } from '../connection-start.ts';
import type { ClientAuthPem, TlsMaterial } from './tls-material.ts';

/** Which host's CA bundle a connection's handshake asked for a certificate with. */
export interface ClientAuthStamp {
  /** The host whose settings the handshake followed (ClientCertPolicy.host; a server-alias's is its host's). */
  readonly host: string;
  /** ClientAuthPem.id of the bundle. */
  readonly id: string;
}

/** Makes an HTTPS server wired like the listening one (same request handling), from TLS options. */
export type SecureServerFactory = (options: SecureServerOptions) => Http2SecureServer;

/** As Node's TLS handshakeTimeout: a connection that sends no ClientHello in this long is closed. */
const CLIENT_HELLO_TIMEOUT_MS = 120_000;

/** On the TLS sockets of the servers here: a property, not a WeakMap, so that the proxy of the socket an HTTP/2 session gives (which forwards property reads) finds it too. */
const STAMP = Symbol('client-auth');

export class ClientAuthServers {
  private entries: Readonly<Record<string, ClientAuthPem | null>> = {};
  /** Some host asks for certificates: ClientHellos are read. */
  private requesting = false;
  /** By `certificate id, host, bundle id`. */
  private servers = new Map<string, Http2SecureServer>();
  private readonly pending = new Set<Socket>();
  private readonly certs: CertStore;
  private readonly make: SecureServerFactory;
  private readonly onError: (err: unknown, host: string) => void;

  constructor(certs: CertStore, make: SecureServerFactory, onError: (err: unknown, host: string) => void) {
    this.certs = certs;
    this.make = make;
    this.onError = onError;
  }

  /** The hosts and bundles of new material (call after the cert store's update). */
  update(material: TlsMaterial): void {
    this.entries = material.clientAuth ?? {};
    this.requesting = Object.values(this.entries).some((e) => e?.request === true);
    for (const key of [...this.servers.keys()]) {
      const [cert = '', host = '', id = ''] = key.split(' ');
      const e = this.entries[host];
      if (!(cert in material.certificates) || e?.id !== id || !e.request) this.servers.delete(key);
    }
  }

  /** The CA bundle of a host's policy; undefined: its Secret could not serve. */
  authority(host: string): ClientAuthPem | undefined {
    return this.entries[host] ?? undefined;
  }

  /**
   * The host and bundle a connection (its TLS socket, or the proxy of it an HTTP/2 session
   * gives) was verified with; undefined: none asked.
   */
  stampOf(socket: object): ClientAuthStamp | undefined {
    return (socket as { [STAMP]?: ClientAuthStamp })[STAMP];
  }

  /** The host whose certificates an SNI name asks for, as the router picks hosts: exact, then one-label wildcard. */
  private hostFor(serverName: string): string | null {
    const exact = this.entries[serverName];
    if (exact !== undefined) return exact?.request ? serverName : null;
    const dot = serverName.indexOf('.');
    if (dot <= 0) return null;
    const wildcard = `*.${serverName.slice(dot + 1)}`;
    return this.entries[wildcard]?.request ? wildcard : null;
  }

  private serverFor(serverName: string): Http2SecureServer | null {
    const host = this.hostFor(serverName);
    if (host === null) return null;
    const entry = this.entries[host]!;
    const certId = this.certs.idFor(serverName);
    const pem = certId === null ? undefined : this.certs.pem(certId);
    if (certId === null || pem === undefined) return null;
    const key = `${certId} ${host} ${entry.id}`;
    let server = this.servers.get(key);
    if (server !== undefined) return server;
    try {
      server = this.make({ cert: pem.cert, key: pem.key, ca: entry.ca, requestCert: true, rejectUnauthorized: false, secureOptions: constants.SSL_OP_NO_TICKET });
    } catch (err) {
      // The control plane checked both; should OpenSSL still refuse them, the connection goes to
      // the listening server, which asks for no certificate: the request step answers 421.
      this.onError(err, host);
      return null;
    }
    const stamp: ClientAuthStamp = { host: entry.host, id: entry.id };
    server.on('secureConnection', (socket: TLSSocket) => ((socket as TLSSocket & { [STAMP]?: ClientAuthStamp })[STAMP] = stamp));
    this.servers.set(key, server);
    return server;
  }

  /**
   * Puts the ClientHello read in front of `server`'s own connection handling (after the PROXY
   * protocol intake, when that is installed later: it wraps this).
   */
  install(server: Server): void {
    interceptConnections(server, (socket, handOver) => {
      if (!this.requesting) return handOver(socket);
      readStart(socket, {
        parse: (received) => {
          const r = readClientHello(received);
          // Not a ClientHello: the listening server's TLS refuses it as it always does.
          return r.state === 'incomplete' ? undefined : r.state === 'done' ? r.serverName : null;
        },
        timeoutMs: CLIENT_HELLO_TIMEOUT_MS,
        done: (hello, serverName) => {
          // Still inside our 'data' event: pause, so nothing flows to nobody before the TLS socket
          // reads what was put back (node:tls reads a wrapped socket's buffered bytes itself).
          socket.pause();
          socket.unshift(hello);
          const target = serverName === null ? null : this.serverFor(serverName);
          if (target === null) handOver(socket);
          else target.emit('connection', socket);
        },
        gone: () => socket.destroy(),
        pending: this.pending,
      });
    });
  }

  /** Closes the connections still sending their ClientHello (the drain: they have no request yet). */
  close(): void {
    for (const socket of this.pending) socket.destroy();
  }
}
