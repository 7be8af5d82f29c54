// One undici Pool per upstream origin, kept alive across table generations. A pool whose
// endpoint left every backend is closed once its requests finish (Pool.close waits).

import { Pool } from 'undici';
import type { Endpoint } from '../../core/model.ts';

export interface PoolOptions {
  connectTimeoutMs: number;
  readTimeoutMs: number;
}

export function origin(e: Endpoint): string {
  return e.address.includes(':') ? `http://[${e.address}]:${e.port}` : `http://${e.address}:${e.port}`;
}

export class UpstreamPools {
  private readonly pools = new Map<string, Pool>();
  private readonly options: PoolOptions;

  constructor(options: PoolOptions) {
    this.options = options;
  }

  get(e: Endpoint): Pool {
    const key = origin(e);
    let pool = this.pools.get(key);
    if (pool === undefined) {
      pool = new Pool(key, {
        connections: null,
        pipelining: 1,
        connect: { timeout: this.options.connectTimeoutMs },
        headersTimeout: this.options.readTimeoutMs,
        bodyTimeout: this.options.readTimeoutMs,
        keepAliveTimeout: 60_000,
        keepAliveMaxTimeout: 600_000,
      });
      this.pools.set(key, pool);
    }
    return pool;
  }

  /** Close the pools of origins no longer in use; in-flight requests on them finish first. */
  retain(origins: ReadonlySet<string>): void {
    for (const [key, pool] of this.pools) {
      if (origins.has(key)) continue;
      this.pools.delete(key);
      pool.close().catch(() => undefined);
    }
  }

  async close(): Promise<void> {
    const all = [...this.pools.values()];
    this.pools.clear();
    await Promise.allSettled(all.map((p) => p.close()));
  }
}
