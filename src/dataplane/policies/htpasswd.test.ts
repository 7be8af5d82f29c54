import bcrypt from 'bcryptjs';
import { describe, expect, it } from 'vitest';
import { apr1, BCRYPT_MAX_COST, entryProblem, verifyEntry } from './htpasswd.ts';
import { basicCredentials } from './basic-auth.ts';

const b = (s: string, enc: BufferEncoding = 'utf8') => Buffer.from(s, enc);

describe('htpasswd entries', () => {
  // Made with `openssl passwd -apr1 -salt <salt> <password>` (OpenSSL 3).
  it.each([
    ['password', 'abcdefgh', '$apr1$abcdefgh$FBwExRW4dCc8aL.OvjpIE1'],
    ['', 'x', '$apr1$x$tMwYqBfQwi3FYAr0aJc8M/'],
    ['a very long password that is longer than sixteen bytes, and then thirty-two', 'a.b/', '$apr1$a.b/$RpWd9zvAZSc4q82SY04yi/'],
    ['ünïcode', 'Zz9', '$apr1$Zz9$ZbNcdQyRAMZ.NUVpY5hTJ.'],
  ])('computes apr1 as openssl does: %j', (password, salt, want) => {
    expect(apr1(b(password), salt)).toBe(want);
    expect(verifyEntry('u', b(password), want)).toBe(true);
    expect(verifyEntry('u', b(`${password}x`), want)).toBe(false);
  });

  it('computes apr1 over bytes that are not UTF-8, colons included', () => {
    // printf 'p\xe4ss:w' | openssl passwd -apr1 -salt 12345678 -stdin
    expect(apr1(b('p\xe4ss:w', 'latin1'), '12345678')).toBe('$apr1$12345678$cmqmNQUoF9RP7f08yv7Mr1');
  });

  it('verifies {SHA} entries (base64 SHA-1)', () => {
    expect(verifyEntry('u', b('password'), '{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=')).toBe(true);
    expect(verifyEntry('u', b('p\xe4ss', 'latin1'), '{SHA}izH0CDFRybAT+b+FwGSYCwNweWI=')).toBe(true);
    expect(verifyEntry('u', b('Password'), '{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=')).toBe(false);
  });

  it('verifies $2a$, $2b$ and $2y$ bcrypt entries asynchronously, then from the cache', async () => {
    const hash = bcrypt.hashSync('s3cret', 4);
    for (const v of ['2a', '2b', '2y']) {
      const entry = hash.replace(/^\$2b/, `$${v}`);
      expect(entryProblem(entry)).toBeNull();
      const first = verifyEntry('alice', b('s3cret'), entry);
      expect(first).toBeInstanceOf(Promise);
      expect(await first).toBe(true);
      // Verified pairs are kept: the next check answers at once.
      expect(verifyEntry('alice', b('s3cret'), entry)).toBe(true);
      expect(await verifyEntry('alice', b('wrong'), entry)).toBe(false);
      // A refusal is not kept: it is checked again.
      expect(verifyEntry('alice', b('wrong'), entry)).toBeInstanceOf(Promise);
    }
  });

  it('runs one bcrypt check for a burst of the same credentials', () => {
    const entry = bcrypt.hashSync('burst', 4);
    const a = verifyEntry('bob', b('burst'), entry);
    expect(verifyEntry('bob', b('burst'), entry)).toBe(a);
  });

  it('keeps the cache keyed by user, password and entry: no two of them run together', async () => {
    const entry = bcrypt.hashSync('b:x', 4);
    expect(await verifyEntry('a', b('b:x'), entry)).toBe(true);
    // Same bytes split differently (user "a:b", password "x") is another pair, and wrong.
    expect(await verifyEntry('a:b', b('x'), entry)).toBe(false);
  });

  it('refuses a bcrypt password that is not UTF-8 (bcryptjs hashes strings)', () => {
    expect(verifyEntry('u', b('\xff', 'latin1'), bcrypt.hashSync('\ufffd', 4))).toBe(false);
  });

  it(`caps bcrypt's cost at ${BCRYPT_MAX_COST}`, () => {
    const at = (cost: string) => `$2y$${cost}$${'a'.repeat(53)}`;
    expect(entryProblem(at('12'))).toBeNull();
    expect(entryProblem(at('04'))).toBeNull();
    expect(entryProblem(at('13'))).toBe('bcrypt cost 13 is above the cap of 12 (a check would hold a worker too long); re-hash it with htpasswd -B -C 12 or less');
    expect(entryProblem(at('03'))).toContain('below the minimum');
  });

  it.each([
    ['plaintext', 'hunter2', 'plaintext or an unknown scheme'],
    ['crypt(3) DES', 'rl0uE4jxaY3Ho', 'crypt(3) DES is not supported'],
    ['MD5-crypt', '$1$saltsalt$2vnaRpHa6Jxjz5n83ok8Z0', 'MD5-crypt ($1$) is not supported'],
    ['SHA-crypt', '$6$salt$abc', 'SHA-crypt ($6$) is not supported'],
    ['{PLAIN}', '{PLAIN}hunter2', 'the {PLAIN} scheme is not supported'],
    ['{SSHA}', '{SSHA}abcdef', 'the {SSHA} scheme is not supported'],
    ['short bcrypt', '$2y$10$abc', 'a malformed bcrypt hash'],
    ['short apr1', '$apr1$salt$abc', 'a malformed apr1 hash'],
    ['bad {SHA}', '{SHA}abc', 'a malformed {SHA} hash'],
    ['empty', '', 'the hash is empty'],
  ])('refuses %s entries, naming the scheme and never the hash', (_, entry, why) => {
    const p = entryProblem(entry);
    expect(p).toContain(why);
    if (entry.length > 8) expect(p).not.toContain(entry.slice(-6));
    expect(verifyEntry('u', b('hunter2'), entry)).toBe(false);
  });
});

describe('Basic credentials', () => {
  const header = (s: string) => `Basic ${b(s, 'latin1').toString('base64')}`;

  it('reads user and password bytes, the user ending at the first colon', () => {
    expect(basicCredentials(header('alice:pa:ss'))).toEqual({ user: 'alice', password: b('pa:ss') });
    expect(basicCredentials(header(':'))).toEqual({ user: '', password: b('') });
    expect(basicCredentials(`bAsIc   ${b('u:p').toString('base64')}`)).toEqual({ user: 'u', password: b('p') });
    // Padding may be left off.
    expect(basicCredentials('Basic dTpw')).toEqual({ user: 'u', password: b('p') });
    expect(basicCredentials(header('\xe9:\xff'))).toEqual({ user: '\xe9', password: b('\xff', 'latin1') });
  });

  it.each([
    ['no header', undefined],
    ['another scheme', 'Bearer abc'],
    ['no colon', header('alice')],
    ['not base64', 'Basic a*b='],
    ['a bad length', 'Basic dTpwx'],
    ['too long', header(`u:${'x'.repeat(1024)}`)],
    ['no credentials', 'Basic '],
  ])('refuses %s', (_, value) => {
    expect(basicCredentials(value)).toBeNull();
  });
});
