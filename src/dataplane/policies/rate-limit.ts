// The rate-limit step (core/annotations/rate-limit.ts has the grammar and the ingress-nginx facts):
// per client IP, on counters the whole worker pool shares (dataplane/shared/), so a client gets its
// limit whichever worker has its connection.
// - limit-connections: the request is counted in, and out once when its response (or upgraded
//   socket) closes, whichever way: finished, failed, or the client gone. Over the limit:
//   limit-conn-status-code with Retry-After: 1 (when a request ends cannot be known).
// - limit-rps, limit-rpm: GCRA with burst = limit × limit-burst-multiplier, as nginx's
//   `limit_req burst=<burst> nodelay`. Both set: both apply, and a request refused by the second
//   is taken back from the first (nginx counts a request in no zone unless every zone passes it).
//   Over a limit: limit-req-status-code with Retry-After, the seconds until one would pass.
// - limit-whitelist: none of the three applies to clients in those ranges.
// - limit-rate / limit-rate-after: left on the RequestContext for the proxy (proxy/response-throttle.ts).

import type { EventEmitter } from 'node:events';
import { inRanges, parseCidrList, type Cidr } from '../../core/cidr.ts';
import type { RateLimitPolicy } from '../../core/model.ts';
import { REFUSED } from '../shared/connection-table.ts';
import { LimitTables } from '../shared/limit-tables.ts';
import { nowMicros } from '../shared/rate-table.ts';
import type { RequestContext, SyncStep } from './pipeline.ts';

let shared: LimitTables | null = null;

/** The pool's shared tables for this worker (worker.ts, before it builds a router). */
export function useLimitTables(tables: LimitTables): void {
  shared = tables;
}

/** The shared tables; without (a router built outside a worker, in tests), this thread's own. */
function tables(): LimitTables {
  return (shared ??= new LimitTables(LimitTables.createBuffers(1), 0));
}

interface RequestLimit {
  /** Which Ingress and which limit: the key's prefix. */
  readonly prefix: string;
  /** GCRA emission interval and tolerance, µs. */
  readonly interval: bigint;
  readonly tolerance: bigint;
}

function requestLimit(zone: string, name: string, perMicros: number, limit: number, multiplier: number): RequestLimit {
  const interval = BigInt(Math.max(1, Math.round(perMicros / limit)));
  return { prefix: `${zone}\n${name}\n`, interval, tolerance: interval * BigInt(limit * multiplier) };
}

const CONN_RETRY = { 'retry-after': '1' } as const;

export function rateLimitStep(policy: RateLimitPolicy): SyncStep {
  const { rates, connections: conns } = tables();
  const { zone, connections, rate, rateAfter, reqStatus, connStatus } = policy;
  const limits: RequestLimit[] = [];
  // ingress-nginx's order: connections, then rps, then rpm.
  if (policy.rps > 0) limits.push(requestLimit(zone, 'rps', 1e6, policy.rps, policy.burstMultiplier));
  if (policy.rpm > 0) limits.push(requestLimit(zone, 'rpm', 60e6, policy.rpm, policy.burstMultiplier));
  const connPrefix = `${zone}\nconn\n`;
  const parsed = policy.whitelist.length === 0 ? [] : parseCidrList(policy.whitelist.join(','));
  const whitelist: readonly Cidr[] | null = typeof parsed === 'string' || parsed.length === 0 ? null : parsed;
  const limited = connections > 0 || limits.length > 0;

  return (ctx: RequestContext): boolean => {
    if (rate > 0) {
      ctx.responseRate = rate;
      ctx.responseRateAfter = rateAfter;
    }
    if (!limited) return false;
    const client = ctx.clientIp;
    if (whitelist !== null) {
      const ip = ctx.clientAddress();
      if (ip !== null && inRanges(whitelist, ip)) return false;
    }
    if (connections > 0) {
      const slot = conns.acquire(conns.key(connPrefix, client), connections);
      if (slot === REFUSED) {
        ctx.refusal = 'rate-limit';
        ctx.respond(connStatus, CONN_RETRY);
        return true;
      }
      // Counted in (a slot, not UNCOUNTED): counted out when the exchange closes, whichever way.
      // The response's (or the upgraded socket's) 'close' comes once, after a finish, an error or
      // the client going away alike; a refusal below closes it too.
      if (slot >= 0) (ctx.res as EventEmitter).once('close', () => conns.release(slot));
    }
    if (limits.length === 0) return false;
    const now = nowMicros();
    for (let i = 0; i < limits.length; i++) {
      const l = limits[i]!;
      const wait = rates.admit(rates.key(l.prefix, client), l.interval, l.tolerance, now);
      if (wait === 0) continue;
      for (let j = 0; j < i; j++) rates.refund(rates.key(limits[j]!.prefix, client), limits[j]!.interval);
      ctx.refusal = 'rate-limit';
      ctx.respond(reqStatus, { 'retry-after': String(Math.max(1, Math.ceil(wait / 1e6))) });
      return true;
    }
    return false;
  };
}
