// One normal form for URI paths, used for request paths (once per request, in the worker,
// before routing and before every policy) and for the paths of routes (at compile time), so the
// two are compared as plain strings. It is what nginx does to a URI before location matching,
// kept within RFC 3986 so that no two different resources become one:
//
// - The path ends at the first `?` or `#` (RFC 3986 §3.3; a fragment is never sent, but an HTTP
//   parser may pass one through).
// - Percent-escapes of unreserved characters (ALPHA DIGIT - . _ ~) are decoded; every other
//   escape stays encoded with upper-case hex digits (§6.2.2.1, §6.2.2.2). So `%2F` never splits
//   a segment and `%3B` is not `;`. A `%` that does not start an escape is a 400 (as nginx).
// - Characters that may not appear in a path (controls, space, `"<>\^`{|}`, non-ASCII) are
//   percent-encoded (§2.1): a byte per character below U+0100 (HTTP parsers hand headers over as
//   Latin-1), UTF-8 above. The normal form is ASCII.
// - Slashes are merged (`//` is `/`, as nginx's merge_slashes) and `.`/`..` segments are removed
//   (§5.2.4), after decoding, so `%2e%2e` is `..`. A `..` that climbs above the root is a 400
//   (nginx answers 400 too). A trailing `/.` or `/..` leaves a trailing slash, as §5.2.4 does.
//
// `;` and everything else stays as it is: a segment `private;x` is not `private` (nginx does the
// same). Case is kept: paths are case-sensitive.

/** 1: allowed as is in a path (unreserved, sub-delims, `:`, `@`, `/`); 0: must be encoded. */
const PLAIN = new Uint8Array(128);
for (const c of "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~!$&'()*+,;=:@/") PLAIN[c.charCodeAt(0)] = 1;

/** Unreserved characters: their escapes are decoded. */
const UNRESERVED = new Uint8Array(128);
for (const c of 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~') UNRESERVED[c.charCodeAt(0)] = 1;

const HEX = '0123456789ABCDEF';
const UTF8 = new TextEncoder();

function hexValue(c: number): number {
  if (c >= 48 && c <= 57) return c - 48; // 0-9
  const l = c | 0x20; // lower case
  return l >= 97 && l <= 102 ? l - 87 : -1; // a-f
}

function escape(byte: number): string {
  return '%' + HEX[byte >> 4]! + HEX[byte & 15]!;
}

/**
 * The normal form of the path of `target` (an origin-form request-target, or a route path), or
 * null when it must be refused with 400: it does not start with `/`, holds a malformed
 * percent-escape, or climbs above the root. Returns the path part of `target` itself,
 * allocating nothing, when it is already normal (the common case).
 */
export function normaliseUriPath(target: string): string | null {
  if (target.charCodeAt(0) !== 47 /* / */) return null;
  // Fast scan: find the end of the path and whether anything needs rewriting.
  let end = target.length;
  let plain = true;
  for (let i = 0; i < end; i++) {
    const c = target.charCodeAt(i);
    if (c === 63 /* ? */ || c === 35 /* # */) {
      end = i;
      break;
    }
    if (c >= 128 || PLAIN[c] === 0) {
      plain = false;
    } else if (c === 47 && i + 1 < target.length) {
      const n = target.charCodeAt(i + 1);
      if (n === 47 || n === 46 /* . */) plain = false;
    }
  }
  if (plain) return end === target.length ? target : target.slice(0, end);
  return rewrite(target, end);
}

/** The slow path: decode, encode, then remove dot segments and empty segments. */
function rewrite(target: string, end: number): string | null {
  // 1. One pass over characters: escapes decoded or upper-cased, unsafe characters encoded.
  let text = '';
  for (let i = 0; i < end; i++) {
    const c = target.charCodeAt(i);
    if (c === 37 /* % */) {
      const hi = i + 2 < end ? hexValue(target.charCodeAt(i + 1)) : -1;
      const lo = hi === -1 ? -1 : hexValue(target.charCodeAt(i + 2));
      if (lo === -1) return null;
      const byte = (hi << 4) | lo;
      text += byte < 128 && UNRESERVED[byte] === 1 ? String.fromCharCode(byte) : escape(byte);
      i += 2;
    } else if (c < 128) {
      text += PLAIN[c] === 1 ? target[i]! : escape(c);
    } else if (c < 256) {
      text += escape(c);
    } else {
      // Above Latin-1: the UTF-8 bytes of the code point (a lone surrogate becomes U+FFFD).
      const cp = target.codePointAt(i)!;
      if (cp > 0xffff) i++;
      for (const b of UTF8.encode(String.fromCodePoint(cp))) text += escape(b);
    }
  }
  // 2. Segments: empty ones dropped (merged slashes), `.` dropped, `..` pops (RFC 3986 §5.2.4).
  const parts = text.split('/');
  const out: string[] = [];
  // parts[0] is '' (the path starts with `/`). A final '', '.' or '..' leaves a trailing slash.
  let trailingSlash = false;
  for (let i = 1; i < parts.length; i++) {
    const seg = parts[i]!;
    const last = i === parts.length - 1;
    if (seg === '' || seg === '.') {
      if (last) trailingSlash = true;
    } else if (seg === '..') {
      if (out.length === 0) return null; // above the root
      out.pop();
      if (last) trailingSlash = true;
    } else {
      out.push(seg);
    }
  }
  if (out.length === 0) return '/';
  return '/' + out.join('/') + (trailingSlash ? '/' : '');
}
