// One undici Pool per upstream origin (and, for HTTPS backends, per TLS configuration: see
// upstream-tls.ts) and connect timeout, kept alive across table generations. A pool whose endpoint
// left every backend, or whose TLS configuration or connect timeout no route uses any more, is
// closed once its requests finish (Pool.close waits), so its sockets go.
//
// proxy-connect-timeout is the pool's: a pool opens a connection for whichever request waits, so
// the timeout cannot be the request's (undici's connector takes none per call); routes with
// another connect timeout get pools of their own. proxy-read-timeout is per request (undici's
// headersTimeout and bodyTimeout request options), proxy-send-timeout in request-body.ts.
//
// The ConfigMap's upstream-keepalive-* keys shape every pool (UpstreamKeepalivePolicy):
// `connections` bounds the connections to one endpoint per worker (further requests wait in the
// pool for one to free up; 0: each connection closes after its request, unbounded), `timeoutMs`
// closes idle ones (an endpoint's shorter `Keep-Alive: timeout=` hint wins, less a second; a longer
// one does not), `requests` retires a connection after that many requests, and `timeMs` retires
// whole pools that old (a timer, so that no connection outlives it: undici's own per-connection
// TTL reads the clock for every busy connection on every request, measured at 4-5 % of a worker).
// undici checks an idle connection for the endpoint's close (FIN or RST already received) before it
// sends a request on it; a request that still meets a closed connection fails with a reset, which
// proxy-next-upstream's `error` retries.

import { performance } from 'node:perf_hooks';
import type { buildConnector as Connector } from 'undici';
import { buildConnector, Pool } from '../undici-dispatchers.ts';
import { DEFAULT_UPSTREAM_KEEPALIVE } from '../../core/annotations/forward-policy.ts';
import type { Endpoint, UpstreamKeepalivePolicy } from '../../core/model.ts';
import { authority } from './authority.ts';
import { sniFor, type UpstreamTls } from './upstream-tls.ts';

/**
 * What undici is told a request's servername is. Left alone, undici sends each request's Host as
 * SNI, and closes a kept-alive TLS connection whenever a request names another Host than the last
 * one; one constant keeps the connections, and the connector below sends the SNI the route asks for.
 */
export const POOL_SERVERNAME = 'gatehouse-upstream';

/** undici's TLS connector with the route's options, sending `sniFor` whatever servername undici passes. */
function tlsConnector(tls: UpstreamTls, timeout: number): Connector.connector {
  const base = buildConnector({ ...tls.options, timeout } as Connector.BuildOptions);
  return (opts, cb) => base({ ...opts, servername: sniFor(tls, opts.hostname) }, cb);
}

export function origin(e: Endpoint): string {
  return `http://${authority(e)}`;
}

/** What the routes of the table use: TLS configurations (UpstreamTls ids) and connect timeouts. */
export interface ConnectionUses {
  readonly tls: ReadonlySet<string>;
  readonly connectTimeouts: ReadonlySet<number>;
}

/** Whether a connection to `authority` with this TLS id and connect timeout is still of use. */
export function inUse(authorities: ReadonlySet<string>, uses: ConnectionUses | undefined, authority: string, tls: string | null, connectTimeoutMs: number): boolean {
  if (!authorities.has(authority)) return false;
  return uses === undefined || ((tls === null || uses.tls.has(tls)) && uses.connectTimeouts.has(connectTimeoutMs));
}

interface Entry {
  readonly pool: Pool;
  /** performance.now() at its creation (upstream-keepalive-time). */
  readonly born: number;
  readonly authority: string;
  /** UpstreamTls id, or null for plain HTTP. */
  readonly tls: string | null;
  readonly connectTimeoutMs: number;
}

export class UpstreamPools {
  private readonly pools = new Map<string, Entry>();
  private keepalive = DEFAULT_UPSTREAM_KEEPALIVE;
  /** What the last retain() kept; null before the first. */
  private kept: { readonly authorities: ReadonlySet<string>; readonly uses: ConnectionUses | undefined } | null = null;
  /** Retires pools as upstream-keepalive-time says; started with the first pool. */
  private retirer: NodeJS.Timeout | null = null;

  /** The pool for `e` with this connect timeout (ms, 0: none); over TLS with `tls` (an HTTPS backend), else plain HTTP. */
  get(e: Endpoint, tls: UpstreamTls | null, connectTimeoutMs: number): Pool {
    const key = `${tls === null ? origin(e) : `https://${authority(e)} ${tls.id}`} ${connectTimeoutMs}`;
    let entry = this.pools.get(key);
    if (entry === undefined) {
      const k = this.keepalive;
      const pool = new Pool(tls === null ? origin(e) : `https://${authority(e)}`, {
        connections: k.connections === 0 ? null : k.connections,
        // undici: pipelining 0 closes each connection after its response.
        pipelining: k.connections === 0 ? 0 : 1,
        connect: tls === null ? { timeout: connectTimeoutMs } : tlsConnector(tls, connectTimeoutMs),
        keepAliveTimeout: k.timeoutMs,
        keepAliveMaxTimeout: k.timeoutMs,
        maxRequestsPerClient: k.requests,
      });
      entry = { pool, authority: authority(e), tls: tls?.id ?? null, connectTimeoutMs, born: performance.now() };
      if (this.kept !== null && !inUse(this.kept.authorities, this.kept.uses, entry.authority, entry.tls, connectTimeoutMs)) {
        // An endpoint the endpoint table no longer has (or a configuration no route has), retried
        // by a request from before the change: a pool for this one request, closed once it is done.
        queueMicrotask(() => void pool.close().catch(() => undefined));
        return pool;
      }
      this.pools.set(key, entry);
      this.retirer ??= this.startRetirer();
    }
    return entry.pool;
  }

  /**
   * Every tenth of upstream-keepalive-time (0.1-60 s), the pools that would pass it before the
   * next tick close (their requests finish first; new ones get a new pool): no connection serves
   * longer than that.
   */
  private startRetirer(): NodeJS.Timeout | null {
    const ttl = this.keepalive.timeMs;
    if (!(ttl > 0)) return null;
    const every = Math.min(60_000, Math.max(100, ttl / 10));
    return setInterval(() => {
      const now = performance.now();
      for (const [key, entry] of this.pools) {
        if (now - entry.born + every < ttl) continue;
        this.pools.delete(key);
        entry.pool.close().catch(() => undefined);
      }
    }, every).unref();
  }

  private stopRetirer(): void {
    if (this.retirer !== null) clearInterval(this.retirer);
    this.retirer = null;
  }

  /** New upstream-keepalive-* settings: new pools follow them; the open ones close once their requests finish. */
  configure(keepalive: UpstreamKeepalivePolicy): void {
    const k = this.keepalive;
    if (k.connections === keepalive.connections && k.timeoutMs === keepalive.timeoutMs && k.requests === keepalive.requests && k.timeMs === keepalive.timeMs) return;
    this.keepalive = keepalive;
    for (const entry of this.pools.values()) entry.pool.close().catch(() => undefined);
    this.pools.clear();
    this.stopRetirer();
  }

  /**
   * Close the pools of endpoints (`host:port`) no longer in use, and, when `uses` is given, of
   * TLS configurations and connect timeouts no longer in use; in-flight requests on them finish first.
   */
  retain(authorities: ReadonlySet<string>, uses?: ConnectionUses): void {
    this.kept = { authorities, uses };
    for (const [key, entry] of this.pools) {
      if (inUse(authorities, uses, entry.authority, entry.tls, entry.connectTimeoutMs)) continue;
      this.pools.delete(key);
      entry.pool.close().catch(() => undefined);
    }
  }

  async close(): Promise<void> {
    this.stopRetirer();
    const all = [...this.pools.values()];
    this.pools.clear();
    await Promise.allSettled(all.map((e) => e.pool.close()));
  }
}
