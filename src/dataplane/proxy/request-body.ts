// A request body on its way upstream, read from the client once, for every try of the request:
// - Replay: the bytes read so far are kept while they add up to at most REPLAY_LIMIT, so a retry
//   (proxy-next-upstream) can send the whole body again; a body past it streams on unkept and
//   rules out any further try. nginx can replay any body because it buffers it whole before
//   connecting (proxy_request_buffering on: client_body_buffer_size in memory, then a temporary
//   file); Gatehouse streams bodies and keeps only this much, so that memory stays bounded by
//   requests in flight × 64 KiB. A failure before the endpoint read anything (a refused connection)
//   finds the body unread, whatever its size.
// - proxy-body-size for a body of undeclared length (body-limit.ts): counted as it is read; past
//   the limit the try fails (`exceeded`), before the chunk that passes it is sent, and the request
//   stream is left open so the 413 can still be written.
// - proxy-send-timeout: a try whose endpoint does not take the next chunk within the timeout (its
//   connection stays full: nginx's proxy_send_timeout, between two successive writes) is failed
//   through `onSendTimeout`. A slow client is not the endpoint's fault and does not count.
// - A body the client did not finish (HTTP/1.1 connection closed, HTTP/2 stream reset) fails the
//   try instead of ending it: the endpoint must never take a cut body for a whole one.
// Each try reads the kept chunks by index, then waits for the one read in flight; one read from the
// client at a time, however many tries still iterate (undici leaves a failed try's iterator
// waiting for its next chunk), so no chunk is lost or sent twice.

import { Http2ServerRequest, constants } from 'node:http2';
import type { ProxyRequest } from './proxy.ts';

/** The most body bytes kept for a retry. */
export const REPLAY_LIMIT = 64 * 1024;

/** Whether the client cut its request (as opposed to ending it). */
function clientReset(req: ProxyRequest): boolean {
  if (!(req instanceof Http2ServerRequest)) return req.destroyed && !req.complete;
  return req.stream.closed && (req.stream.rstCode ?? constants.NGHTTP2_NO_ERROR) !== constants.NGHTTP2_NO_ERROR;
}

export class RequestBody {
  /** More than the proxy-body-size limit came: answer 413. */
  exceeded = false;
  readonly #req: ProxyRequest;
  readonly #limit: number;
  readonly #source: AsyncIterator<Buffer>;
  /** Chunks read, from index #base on (earlier ones were dropped once the body could no longer be replayed). */
  readonly #chunks: Buffer[] = [];
  #base = 0;
  #read = 0;
  #keep = true;
  #done = false;
  #failed: Error | null = null;
  #reading: Promise<void> | null = null;
  #aborted = false;
  /** The latest try: earlier ones read nothing more. */
  #try = 0;
  /** Chunks the latest try has taken. */
  #sent = 0;

  /** `limit`: proxy-body-size to count against, 0: none (a declared length is held to by the parser). */
  constructor(req: ProxyRequest, limit: number) {
    this.#req = req;
    this.#limit = limit;
    // An HTTP/2 stream the client reset emits 'end' after 'aborted' (see clientReset).
    req.once('aborted', () => (this.#aborted = true));
    this.#source = req.iterator({ destroyOnReturn: false }) as AsyncIterator<Buffer>;
  }

  /** Whether a new try can send the whole body. */
  get replayable(): boolean {
    return this.#keep && this.#failed === null;
  }

  /** No try will follow (the answer has begun): keep nothing the current try has sent. */
  settle(): void {
    this.#keep = false;
    this.#drop(this.#sent);
  }

  /** The body for a new try; `onSendTimeout` when the endpoint leaves a chunk untaken for `sendTimeoutMs` (0: never). */
  attempt(sendTimeoutMs: number, onSendTimeout: () => void): AsyncIterable<Buffer> {
    const id = ++this.#try;
    this.#sent = this.#base;
    return { [Symbol.asyncIterator]: () => this.#chunksFor(id, sendTimeoutMs, onSendTimeout) };
  }

  async *#chunksFor(id: number, sendTimeoutMs: number, onSendTimeout: () => void): AsyncGenerator<Buffer> {
    for (let i = 0; ; ) {
      if (id !== this.#try || i < this.#base) throw new Error('a later try took the request body over');
      while (i >= this.#base + this.#chunks.length) {
        if (this.#failed !== null) throw this.#failed;
        if (this.#done) return;
        await (this.#reading ??= this.#readOne());
      }
      const chunk = this.#chunks[i - this.#base]!;
      this.#sent = ++i;
      if (!this.#keep) this.#drop(i);
      // Runs while the endpoint has not asked for the next chunk (undici waits for 'drain' first).
      const timer = sendTimeoutMs > 0 ? setTimeout(onSendTimeout, sendTimeoutMs) : null;
      try {
        yield chunk;
      } finally {
        if (timer !== null) clearTimeout(timer);
      }
    }
  }

  async #readOne(): Promise<void> {
    try {
      const r = await this.#source.next();
      if (r.done) {
        if (this.#aborted || clientReset(this.#req)) throw new Error('the client did not finish its request body');
        this.#done = true;
        return;
      }
      this.#read += r.value.length;
      if (this.#limit !== 0 && this.#read > this.#limit) {
        this.exceeded = true;
        throw new Error(`the request body is larger than proxy-body-size (${this.#limit} bytes)`);
      }
      this.#chunks.push(r.value);
      if (this.#read > REPLAY_LIMIT) this.#keep = false;
    } catch (err) {
      this.#failed ??= err as Error;
    } finally {
      this.#reading = null;
    }
  }

  /** Forget the chunks before index `i`. */
  #drop(i: number): void {
    if (i <= this.#base) return;
    this.#chunks.splice(0, i - this.#base);
    this.#base = i;
  }
}
