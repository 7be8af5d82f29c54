// One undici Pool per upstream origin (and, for HTTPS backends, per TLS configuration: see
// upstream-tls.ts), kept alive across table generations. A pool whose endpoint left every backend,
// or whose TLS configuration no route uses any more, is closed once its requests finish
// (Pool.close waits).

import { buildConnector, Pool } from 'undici';
import type { Endpoint } from '../../core/model.ts';
import { sniFor, type UpstreamTls } from './upstream-tls.ts';

/**
 * What undici is told a request's servername is. Left alone, undici sends each request's Host as
 * SNI, and closes a kept-alive TLS connection whenever a request names another Host than the last
 * one; one constant keeps the connections, and the connector below sends the SNI the route asks for.
 */
export const POOL_SERVERNAME = 'gatehouse-upstream';

/** undici's TLS connector with the route's options, sending `sniFor` whatever servername undici passes. */
function tlsConnector(tls: UpstreamTls, timeout: number): buildConnector.connector {
  const base = buildConnector({ ...tls.options, timeout } as buildConnector.BuildOptions);
  return (opts, cb) => base({ ...opts, servername: sniFor(tls, opts.hostname) }, cb);
}

export interface PoolOptions {
  connectTimeoutMs: number;
  readTimeoutMs: number;
}

export function origin(e: Endpoint): string {
  return `http://${authority(e)}`;
}

/** `host:port`, an IPv6 address in brackets. */
export function authority(e: Endpoint): string {
  return e.address.includes(':') ? `[${e.address}]:${e.port}` : `${e.address}:${e.port}`;
}

interface Entry {
  readonly pool: Pool;
  readonly authority: string;
  /** UpstreamTls id, or null for plain HTTP. */
  readonly tls: string | null;
}

export class UpstreamPools {
  private readonly pools = new Map<string, Entry>();
  private readonly options: PoolOptions;

  constructor(options: PoolOptions) {
    this.options = options;
  }

  /** The pool for `e`; over TLS with `tls` (an HTTPS backend), else plain HTTP. */
  get(e: Endpoint, tls: UpstreamTls | null = null): Pool {
    const key = tls === null ? origin(e) : `https://${authority(e)} ${tls.id}`;
    let entry = this.pools.get(key);
    if (entry === undefined) {
      const pool = new Pool(tls === null ? key : `https://${authority(e)}`, {
        connections: null,
        pipelining: 1,
        connect: tls === null ? { timeout: this.options.connectTimeoutMs } : tlsConnector(tls, this.options.connectTimeoutMs),
        headersTimeout: this.options.readTimeoutMs,
        bodyTimeout: this.options.readTimeoutMs,
        keepAliveTimeout: 60_000,
        keepAliveMaxTimeout: 600_000,
      });
      entry = { pool, authority: authority(e), tls: tls?.id ?? null };
      this.pools.set(key, entry);
    }
    return entry.pool;
  }

  /**
   * Close the pools of endpoints (`host:port`) no longer in use, and, when `tlsIds` is given, of
   * TLS configurations no longer in use; in-flight requests on them finish first.
   */
  retain(authorities: ReadonlySet<string>, tlsIds?: ReadonlySet<string>): void {
    for (const [key, entry] of this.pools) {
      if (authorities.has(entry.authority) && (entry.tls === null || tlsIds === undefined || tlsIds.has(entry.tls))) continue;
      this.pools.delete(key);
      entry.pool.close().catch(() => undefined);
    }
  }

  async close(): Promise<void> {
    const all = [...this.pools.values()];
    this.pools.clear();
    await Promise.allSettled(all.map((e) => e.pool.close()));
  }
}
