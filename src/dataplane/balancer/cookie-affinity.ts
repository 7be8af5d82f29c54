// Cookie affinity (`affinity: cookie`; ingress-nginx's sticky.lua, sticky_balanced.lua,
// sticky_persistent.lua): the answer to a request without a usable cookie sets one, and requests
// that carry it go to the same endpoint, whichever worker or replica serves them. The cookie names
// no pod address.
//
// - balanced (default): the cookie holds a random key, which a consistent-hash ring over the
//   endpoints maps to one (sticky_balanced.lua). The ring depends only on the endpoint list, so
//   every worker maps a key alike. When endpoints are added, the keys that land on their points move
//   to them (about (n-c)/n of the sessions going from c to n endpoints: the load rebalances); when
//   one is removed, only its sessions move. The cookie is not rewritten: the key is still valid.
// - persistent: the cookie holds a keyed hash of the endpoint's address and port, the key derived
//   from the backend id (sticky_persistent.lua salts an MD5 with the backend name), so every worker
//   and replica computes the same value, and the address cannot be read back without guessing it.
//   A session never moves while its endpoint is there; a cookie naming an endpoint that is gone
//   gets a new endpoint at random and a new cookie.
// The value is read up to a `|` (ingress-nginx appends `|<backend key>` for canaries).
//
// A request whose cookie names an endpoint it must avoid (a retry after that endpoint failed;
// later, an ejected one) goes to another. With session-cookie-change-on-failure the answer moves
// the session there (a new cookie); without it the cookie is kept, and the session returns to its
// endpoint once it answers again. (ingress-nginx retries the cookie's endpoint itself when the
// setting is off; a retry here never goes back to an endpoint that just failed.)
//
// The Set-Cookie value: `NAME=VALUE; Expires=…; Max-Age=…; Domain=…; Path=…; Secure; HttpOnly;
// SameSite=…` (attributes present as configured; Secure when session-cookie-secure or the request
// came over https; SameSite=None left out for the browsers ingress-nginx's same_site.lua lists
// when session-cookie-conditional-samesite-none is set).

import { createHmac, randomBytes } from 'node:crypto';
import type { AffinityPolicy, Endpoint } from '../../core/model.ts';
import { allowed, type Balancer, type PickContext, type Random } from './balancer.ts';
import { endpointSeeds, hash32, HashRing, RingCache } from './consistent-hash.ts';
import { cookieValue } from './hash-key.ts';

/** sticky_balanced.lua's MAX_UPSTREAM_CHECKS_COUNT: random keys tried for one that avoids the excluded endpoints. */
const NEW_KEY_TRIES = 20;
/** A cookie value longer than this is no value of ours: a new one is set. */
const MAX_VALUE = 128;

/** ingress-nginx's util/same_site.lua: user agents that refuse or mishandle SameSite=None. */
export function sameSiteNoneCompatible(userAgent: string | undefined): boolean {
  if (userAgent === undefined) return true;
  if (userAgent.includes('Chrome/4') || userAgent.includes('Chrome/5') || userAgent.includes('Chrome/6')) return false;
  if (userAgent.includes('CPU iPhone OS 12') || userAgent.includes('iPad; CPU OS 12')) return false;
  return !(userAgent.includes('Macintosh') && userAgent.includes('Intel Mac OS X 10_14') && userAgent.includes('Safari') && !userAgent.includes('Chrome'));
}

/** The persistent cookie value of an endpoint of `backend`: HMAC-SHA256 keyed by the backend id, 128 bits in hex. */
export function persistentValue(backend: string, e: Endpoint): string {
  return createHmac('sha256', `gatehouse affinity ${backend}`).update(`${e.address} ${e.port}`).digest('hex').slice(0, 32);
}

/** What the cookie maps to, per endpoint list. */
interface Table {
  /** balanced: the ring the keys land on. */
  readonly ring: HashRing | null;
  /** persistent: cookie value → endpoint index, and back. */
  readonly byValue: ReadonlyMap<string, number>;
  readonly values: readonly string[];
}

export class CookieAffinity implements Balancer {
  private readonly policy: AffinityPolicy;
  private readonly random: Random;
  private readonly tables: RingCache<Table>;
  /** The Set-Cookie value after `NAME=VALUE`, up to Secure (Expires, which changes, is added per answer). */
  private readonly attributes: string;

  constructor(policy: AffinityPolicy, backend: string, random: Random = Math.random) {
    this.policy = policy;
    this.random = random;
    const c = policy.cookie;
    this.attributes = `${c.maxAge !== undefined ? `; Max-Age=${c.maxAge}` : ''}${c.domain !== undefined ? `; Domain=${c.domain}` : ''}; Path=${c.path ?? '/'}`;
    this.tables = new RingCache((candidates) => {
      if (policy.mode === 'balanced') return { ring: new HashRing(endpointSeeds(candidates)), byValue: new Map(), values: [] };
      const values = candidates.map((e) => persistentValue(backend, e));
      return { ring: null, byValue: new Map(values.map((v, i) => [v, i])), values };
    });
  }

  pick(candidates: readonly Endpoint[], ctx: PickContext, exclude?: ReadonlySet<Endpoint>): Endpoint | undefined {
    if (candidates.length === 0) return undefined;
    const table = this.tables.for(candidates);
    const value = this.cookie(ctx);
    if (value !== undefined) {
      const at = table.ring !== null ? table.ring.find(hash32(value)) : (table.byValue.get(value) ?? -1);
      const held = candidates[at];
      if (held !== undefined) {
        if (exclude === undefined || !exclude.has(held)) return held;
        // Its endpoint is to be avoided: another serves this request; the cookie stays unless change-on-failure.
        if (!this.policy.changeOnFailure) return this.other(candidates, table, value, exclude);
      }
    }
    return this.fresh(candidates, table, ctx, exclude);
  }

  started(): void {}

  finished(): void {}

  /** The incoming cookie's value (up to a `|`), or undefined when absent or not one of ours. */
  private cookie(ctx: PickContext): string | undefined {
    const raw = cookieValue(ctx.headers.cookie, this.policy.cookie.name);
    if (raw === undefined) return undefined;
    const bar = raw.indexOf('|');
    const value = bar === -1 ? raw : raw.slice(0, bar);
    return value === '' || value.length > MAX_VALUE ? undefined : value;
  }

  /** Another endpoint for a session whose own is excluded, the cookie kept: the ring's next owner, or one at random. */
  private other(candidates: readonly Endpoint[], table: Table, value: string, exclude: ReadonlySet<Endpoint>): Endpoint | undefined {
    if (table.ring !== null) {
      const at = table.ring.find(hash32(value), (i) => exclude.has(candidates[i]!));
      return at === -1 ? undefined : candidates[at];
    }
    const open = allowed(candidates, exclude);
    return open[Math.floor(this.random() * open.length)];
  }

  /** A new session: an endpoint not excluded and the cookie that names it (ctx.setCookie). */
  private fresh(candidates: readonly Endpoint[], table: Table, ctx: PickContext, exclude: ReadonlySet<Endpoint> | undefined): Endpoint | undefined {
    let chosen: Endpoint | undefined;
    let value: string | undefined;
    if (table.ring !== null) {
      for (let i = 0; i < NEW_KEY_TRIES && chosen === undefined; i++) {
        const key = randomBytes(12).toString('base64url');
        const e = candidates[table.ring.find(hash32(key))]!;
        if (exclude === undefined || !exclude.has(e)) [chosen, value] = [e, key];
      }
      // Nearly every endpoint excluded: this request goes to the ring's next open one, and the next request tries for a cookie again.
      if (chosen === undefined) return this.other(candidates, table, randomBytes(12).toString('base64url'), exclude!);
    } else {
      const open = allowed(candidates, exclude);
      chosen = open[Math.floor(this.random() * open.length)];
      if (chosen !== undefined) value = table.values[candidates.indexOf(chosen)];
    }
    if (chosen !== undefined) ctx.setCookie = this.setCookie(value!, ctx);
    return chosen;
  }

  private setCookie(value: string, ctx: PickContext): string {
    const c = this.policy.cookie;
    const expires = c.expires !== undefined ? `; Expires=${new Date(Date.now() + c.expires * 1000).toUTCString()}` : '';
    const secure = c.secure || ctx.https ? '; Secure' : '';
    const sameSite = c.sameSite === undefined || (c.sameSite === 'None' && c.conditionalSameSiteNone && !sameSiteNoneCompatible(headerOf(ctx, 'user-agent'))) ? '' : `; SameSite=${c.sameSite}`;
    return `${c.name}=${value}${expires}${this.attributes}${secure}; HttpOnly${sameSite}`;
  }
}

function headerOf(ctx: PickContext, name: string): string | undefined {
  const v = ctx.headers[name];
  return Array.isArray(v) ? v[0] : v;
}
