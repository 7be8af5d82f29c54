// TLS session-ticket keys shared by every worker, so a session resumed on a new connection works
// whichever worker the kernel hands it to (reusePort). The main thread makes the keys and
// rotates them; each worker installs them on its HTTPS server.
//
// A key is 48 bytes, as Node's setTicketKeys takes it: name (16), HMAC secret (16), AES-128 key
// (16). OpenSSL encrypts and decrypts tickets with the listening server's own context, whichever
// context SNI then picked (checked here: keys on SNI contexts change nothing). setTicketKeys holds
// one key only, so a rotation would refuse every ticket issued before it. Where Node has its
// ticket-key callback on the native context (`enableTicketKeyCallback` / `onticketkeycallback`,
// which Node's own tests use; present in Node 22 and 24), tickets are encrypted with the newest
// key and still decrypted with the previous one, and such a ticket is renewed (answer 2), as RFC
// 5077 §4 suggests. Where it is missing, setTicketKeys with the newest key is the fallback.

import { randomBytes } from 'node:crypto';

export const TICKET_KEY_BYTES = 48;
const ZERO = Buffer.alloc(16);

/** A fresh ticket key. */
export function newTicketKey(): Buffer {
  return randomBytes(TICKET_KEY_BYTES);
}

/** Main thread: the current key and the previous one, rotated every `intervalMs`. */
export class TicketKeyRotation {
  private keys: Buffer[] = [newTicketKey()];
  private readonly timer: NodeJS.Timeout;

  constructor(onRotate: (keys: readonly Buffer[]) => void, intervalMs = 3_600_000) {
    this.timer = setInterval(() => {
      this.keys = [newTicketKey(), this.keys[0]!];
      onRotate(this.keys);
    }, intervalMs);
    this.timer.unref();
  }

  /** Newest first. */
  current(): readonly Buffer[] {
    return this.keys;
  }

  close(): void {
    clearInterval(this.timer);
  }
}

/** The parts of Node's native SecureContext handle used here (untyped in @types/node). */
interface NativeContext {
  setTicketKeys(keys: Buffer): void;
  enableTicketKeyCallback?: () => void;
  onticketkeycallback?: (name: Buffer, iv: Buffer, enc: boolean) => unknown[];
}

/** Worker side: the keys as the pool last sent them, installed on SecureContexts. */
export class TicketKeyring {
  private keys: Buffer[] = [];

  /** Newest first; each 48 bytes. */
  set(keys: readonly Uint8Array[]): void {
    this.keys = keys.filter((k) => k.byteLength === TICKET_KEY_BYTES).map((k) => Buffer.from(k.buffer, k.byteOffset, k.byteLength));
  }

  get current(): Buffer | undefined {
    return this.keys[0];
  }

  /**
   * Use these keys for tickets on `context` (a SecureContext's native `.context`). Returns false
   * when only setTicketKeys was possible: the caller must install again after a rotation.
   */
  install(context: unknown): boolean {
    const native = context as NativeContext | undefined;
    if (native === undefined || native === null) return false;
    if (typeof native.enableTicketKeyCallback === 'function') {
      native.enableTicketKeyCallback();
      native.onticketkeycallback = (name, _iv, enc) => this.callback(name, enc);
      return true;
    }
    if (this.current !== undefined) native.setTicketKeys(this.current);
    return false;
  }

  /**
   * [1 ok | 2 ok-and-renew | 0 unknown key (full handshake) or no ticket, hmac, aes, (encrypting:)
   * name, iv]. Node reads the four buffers whatever the answer (a missing one aborts the
   * process), so "unknown" carries zeros, which are never used.
   */
  private callback(name: Buffer, enc: boolean): unknown[] {
    if (enc) {
      const k = this.keys[0];
      if (k === undefined) return [0, ZERO, ZERO, ZERO, ZERO];
      return [1, k.subarray(16, 32), k.subarray(32, 48), k.subarray(0, 16), randomBytes(16)];
    }
    const i = this.keys.findIndex((k) => k.subarray(0, 16).equals(name));
    if (i === -1) return [0, ZERO, ZERO];
    const k = this.keys[i]!;
    return [i === 0 ? 1 : 2, k.subarray(16, 32), k.subarray(32, 48)];
  }
}
