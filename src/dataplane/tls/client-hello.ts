// The server name (SNI) of a TLS ClientHello, read from the first bytes of a connection before any
// TLS library sees them (client-auth-servers.ts decides with it which server does the handshake).
// RFC 8446 §5.1 (records: type 22 handshake, 2-byte version, 2-byte length; a handshake message
// may span several records), §4.1.2 (ClientHello), RFC 6066 §3 (server_name, type 0, host_name
// entries of name_type 0). Pure: bytes in, an answer out; never throws.

export type ClientHelloRead =
  /** More bytes are needed. */
  | { readonly state: 'incomplete' }
  /** Not a TLS ClientHello (the TLS server will refuse it as it sees fit). */
  | { readonly state: 'invalid' }
  /** The host name sent, lower case without a trailing dot, or null: no SNI. */
  | { readonly state: 'done'; readonly serverName: string | null };

/** A ClientHello is at most 64 KiB + headers (its 3-byte length allows 16 MiB; nobody sends that). */
export const MAX_CLIENT_HELLO = 65_536 + 9;

const INCOMPLETE: ClientHelloRead = { state: 'incomplete' };
const INVALID: ClientHelloRead = { state: 'invalid' };

/** The handshake bytes of the records at the start of `data`, as far as they arrived. */
function handshakeBytes(data: Uint8Array): Uint8Array | null {
  const parts: Uint8Array[] = [];
  let at = 0;
  while (at + 5 <= data.length) {
    if (data[at] !== 22 || data[at + 1] !== 3) return null;
    const len = (data[at + 3]! << 8) | data[at + 4]!;
    if (len === 0) return null;
    const end = at + 5 + len;
    parts.push(data.subarray(at + 5, Math.min(end, data.length)));
    at = end;
  }
  return parts.length === 1 ? parts[0]! : Buffer.concat(parts);
}

export function readClientHello(data: Uint8Array): ClientHelloRead {
  if (data.length > 0 && data[0] !== 22) return INVALID;
  if (data.length >= 2 && data[1] !== 3) return INVALID;
  const b = handshakeBytes(data);
  if (b === null) return INVALID;
  if (b.length < 4) return data.length >= MAX_CLIENT_HELLO ? INVALID : INCOMPLETE;
  if (b[0] !== 1) return INVALID;
  const bodyLength = (b[1]! << 16) | (b[2]! << 8) | b[3]!;
  if (bodyLength > MAX_CLIENT_HELLO - 9) return INVALID;
  if (b.length < 4 + bodyLength) return data.length >= MAX_CLIENT_HELLO ? INVALID : INCOMPLETE;
  return parseClientHello(b.subarray(4, 4 + bodyLength));
}

function parseClientHello(body: Uint8Array): ClientHelloRead {
  let at = 2 + 32; // legacy_version, random
  const skip = (lengthBytes: 1 | 2): boolean => {
    if (at + lengthBytes > body.length) return false;
    const len = lengthBytes === 1 ? body[at]! : (body[at]! << 8) | body[at + 1]!;
    at += lengthBytes + len;
    return at <= body.length;
  };
  // legacy_session_id, cipher_suites, legacy_compression_methods.
  if (!skip(1) || !skip(2) || !skip(1)) return INVALID;
  if (at === body.length) return { state: 'done', serverName: null }; // no extensions
  if (at + 2 > body.length) return INVALID;
  const end = at + 2 + ((body[at]! << 8) | body[at + 1]!);
  if (end > body.length) return INVALID;
  at += 2;
  while (at + 4 <= end) {
    const type = (body[at]! << 8) | body[at + 1]!;
    const len = (body[at + 2]! << 8) | body[at + 3]!;
    const next = at + 4 + len;
    if (next > end) return INVALID;
    if (type === 0) return serverName(body.subarray(at + 4, next));
    at = next;
  }
  return at === end ? { state: 'done', serverName: null } : INVALID;
}

/** The server_name extension's host_name (RFC 6066 §3); as OpenSSL, a name with a control character, a space or a non-ASCII byte, or over 255 bytes, is refused. */
function serverName(ext: Uint8Array): ClientHelloRead {
  if (ext.length < 2 || ((ext[0]! << 8) | ext[1]!) !== ext.length - 2) return INVALID;
  let at = 2;
  while (at + 3 <= ext.length) {
    const nameType = ext[at]!;
    const len = (ext[at + 1]! << 8) | ext[at + 2]!;
    if (at + 3 + len > ext.length) return INVALID;
    if (nameType === 0) {
      if (len === 0 || len > 255) return INVALID;
      let name = '';
      for (let i = at + 3; i < at + 3 + len; i++) {
        const c = ext[i]!;
        if (c <= 0x20 || c > 0x7e) return INVALID;
        name += String.fromCharCode(c);
      }
      name = name.toLowerCase();
      return { state: 'done', serverName: name.endsWith('.') ? name.slice(0, -1) : name };
    }
    at += 3 + len;
  }
  return INVALID;
}
