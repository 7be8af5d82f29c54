// htpasswd entries as nginx's auth_basic_user_file reads them, for the basic-auth step: which
// hashes Gatehouse verifies, and the verification. The control plane checks every entry with
// entryProblem (control/basic-auth-resolver.ts) and ships only those that pass; the worker verifies
// with verifyEntry. Schemes (Apache's htpasswd, https://httpd.apache.org/docs/2.4/misc/password_encryptions.html):
// - bcrypt `$2a$`, `$2b$`, `$2y$` (htpasswd -B), via bcryptjs, whose async compare works in
//   slices of at most 100 ms and yields to the event loop between them. The cost is capped at
//   BCRYPT_MAX_COST: each step up doubles the work, and an uncached check at cost 12 already takes
//   about 0.3 s of a worker's CPU in JavaScript; 12 covers the defaults of htpasswd (5), Go and
//   node (10) and Python (12). Verified pairs are kept briefly (an LRU of HMACs, never the
//   password), so a client sending the same credentials on every request pays once a minute.
// - apr1-MD5 `$apr1$` (htpasswd -m, Apache's default), and `{SHA}` (htpasswd -s, base64 SHA-1).
// Refused (GH_AUTH_ENTRY_REFUSED): plaintext (nginx passes it to crypt(3)), crypt(3) DES (8-byte
// passwords), MD5-crypt `$1$` and SHA-crypt `$5$`/`$6$` (nginx verifies them with the system's
// crypt(3); not implemented here), nginx's `{PLAIN}`/`{SSHA}` schemes. Comparisons are constant
// time (timingSafeEqual; bcryptjs compares the whole string).

import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { LRUCache } from 'lru-cache';

/** The highest bcrypt cost accepted: see above. */
export const BCRYPT_MAX_COST = 12;

const BCRYPT = /^\$2[aby]\$(\d\d)\$[./A-Za-z0-9]{53}$/;
const APR1 = /^\$apr1\$([^$]{0,8})\$[./0-9A-Za-z]{22}$/;
const SHA = /^\{SHA\}[A-Za-z0-9+/]{27}=$/;
const DES = /^[./0-9A-Za-z]{13}$/;
const SCHEME = /^\{([A-Za-z0-9.-]{1,20})\}/;
const USE = 'use bcrypt (htpasswd -B), apr1 (htpasswd -m) or {SHA} (htpasswd -s)';

/** Why Gatehouse cannot verify `hash` (naming its scheme, never its text), or null when it can. */
export function entryProblem(hash: string): string | null {
  const bcryptCost = BCRYPT.exec(hash);
  if (bcryptCost !== null) {
    const cost = Number(bcryptCost[1]);
    if (cost < 4) return `bcrypt cost ${cost} is below the minimum, 4`;
    return cost > BCRYPT_MAX_COST ? `bcrypt cost ${cost} is above the cap of ${BCRYPT_MAX_COST} (a check would hold a worker too long); re-hash it with htpasswd -B -C ${BCRYPT_MAX_COST} or less` : null;
  }
  if (APR1.test(hash) || SHA.test(hash)) return null;
  if (hash === '') return 'the hash is empty';
  if (hash.startsWith('$2')) return `a malformed bcrypt hash; ${USE}`;
  if (hash.startsWith('$apr1$')) return `a malformed apr1 hash; ${USE}`;
  if (hash.startsWith('{SHA}')) return `a malformed {SHA} hash; ${USE}`;
  if (hash.startsWith('$1$')) return `MD5-crypt ($1$) is not supported; ${USE}`;
  if (hash.startsWith('$5$') || hash.startsWith('$6$')) return `SHA-crypt (${hash.slice(0, 3)}) is not supported; ${USE}`;
  const scheme = SCHEME.exec(hash);
  if (scheme !== null) return `the {${scheme[1]!}} scheme is not supported; ${USE}`;
  if (DES.test(hash)) return `crypt(3) DES is not supported (it reads 8 bytes of a password); ${USE}`;
  return `plaintext or an unknown scheme is not supported; ${USE}`;
}

// ---- apr1-MD5 (Apache's apr_md5.c, after Poul-Henning Kamp's md5crypt) ----------------------

const ITOA64 = './0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

const md5 = (...parts: (Buffer | string)[]): Buffer => {
  const h = createHash('md5');
  for (const p of parts) h.update(p);
  return h.digest();
};

/** The `$apr1$salt$hash` entry of `password` with `salt` (at most 8 characters). */
export function apr1(password: Buffer, salt: string): string {
  const magic = '$apr1$';
  const ctx = createHash('md5').update(password).update(magic).update(salt, 'latin1');
  let final = md5(password, Buffer.from(salt, 'latin1'), password);
  for (let left = password.length; left > 0; left -= 16) ctx.update(final.subarray(0, Math.min(left, 16)));
  // Bits of the length: a zero byte for a 1 bit, the password's first byte for a 0 bit.
  for (let i = password.length; i !== 0; i >>>= 1) ctx.update(i & 1 ? Buffer.alloc(1) : password.subarray(0, 1));
  final = ctx.digest();
  const saltBytes = Buffer.from(salt, 'latin1');
  for (let i = 0; i < 1000; i++) {
    const round = createHash('md5');
    round.update(i & 1 ? password : final);
    if (i % 3 !== 0) round.update(saltBytes);
    if (i % 7 !== 0) round.update(password);
    round.update(i & 1 ? final : password);
    final = round.digest();
  }
  let out = '';
  const to64 = (v: number, n: number) => {
    for (let k = 0; k < n; k++, v >>>= 6) out += ITOA64[v & 0x3f];
  };
  const f = final;
  for (const [a, b, c] of [[0, 6, 12], [1, 7, 13], [2, 8, 14], [3, 9, 15], [4, 10, 5]] as const) to64((f[a]! << 16) | (f[b]! << 8) | f[c]!, 4);
  to64(f[11]!, 2);
  return `${magic}${salt}$${out}`;
}

// ---- verification ---------------------------------------------------------------------------

/** Per-worker key of the cache's HMACs: the cache holds no value that a dump could test passwords against offline. */
const CACHE_KEY = randomBytes(32);
/** Verified bcrypt pairs: bounded, and short-lived. */
const verified = new LRUCache<string, true>({ max: 1024, ttl: 60_000 });
/** Checks under way, so a burst of requests with the same credentials runs one. */
const running = new Map<string, Promise<boolean>>();
const UTF8 = new TextDecoder('utf-8', { fatal: true });

function cacheKey(user: string, password: Buffer, hash: string): string {
  // Lengths first, so no two (user, password, hash) triples run together into the same input.
  const lengths = Buffer.alloc(12);
  lengths.writeUInt32BE(user.length, 0);
  lengths.writeUInt32BE(password.length, 4);
  lengths.writeUInt32BE(hash.length, 8);
  return createHmac('sha256', CACHE_KEY).update(lengths).update(user, 'latin1').update(password).update(hash, 'latin1').digest('base64');
}

function sameBytes(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

/**
 * Whether `password` (bytes) is that of the entry `hash` (one entryProblem passed) of `user`
 * (bytes as latin1): at once for apr1 and {SHA}, a promise for bcrypt unless the pair was
 * verified in the last minute.
 */
export function verifyEntry(user: string, password: Buffer, hash: string): boolean | Promise<boolean> {
  if (hash.startsWith('{SHA}')) return sameBytes(createHash('sha1').update(password).digest(), Buffer.from(hash.slice(5), 'base64'));
  const apr = APR1.exec(hash);
  if (apr !== null) return sameBytes(Buffer.from(apr1(password, apr[1]!), 'latin1'), Buffer.from(hash, 'latin1'));
  if (!BCRYPT.test(hash)) return false;
  const key = cacheKey(user, password, hash);
  if (verified.get(key) === true) return true;
  let check = running.get(key);
  if (check === undefined) {
    let text: string;
    try {
      // bcryptjs hashes a string's UTF-8 bytes: a password that is not UTF-8 cannot be given to it.
      text = UTF8.decode(password);
    } catch {
      return false;
    }
    // bcryptjs is loaded on the first bcrypt check: it holds about 8 MB per thread (measured here).
    check = import('bcryptjs').then(({ default: bcrypt }) => bcrypt.compare(text, hash)).then(
      (ok) => {
        running.delete(key);
        if (ok) verified.set(key, true);
        return ok;
      },
      (err: unknown) => {
        running.delete(key);
        throw err;
      },
    );
    running.set(key, check);
  }
  return check;
}
