import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import type { ProxyRequest } from './proxy.ts';
import { REPLAY_LIMIT, RequestBody } from './request-body.ts';

/** A request body stream the test writes to (an IncomingMessage stand-in: `complete` once ended). */
function request(): PassThrough & { complete: boolean } {
  const req = Object.assign(new PassThrough(), { complete: false });
  req.once('end', () => (req.complete = true));
  return req;
}

const asRequest = (r: PassThrough) => r as unknown as ProxyRequest;
const chunk = (n: number, fill = 0x61) => Buffer.alloc(n, fill);

/** Reads `n` chunks of a try (or all, n = Infinity), returning them and the iterator to go on with. */
async function take(it: AsyncIterator<Buffer>, n = Infinity): Promise<Buffer[]> {
  const out: Buffer[] = [];
  while (out.length < n) {
    const r = await it.next();
    if (r.done) break;
    out.push(r.value);
  }
  return out;
}

const tryOf = (body: RequestBody, sendTimeoutMs = 0, onTimeout = () => {}) => body.attempt(sendTimeoutMs, onTimeout)[Symbol.asyncIterator]();

describe('RequestBody', () => {
  it('gives one try the body as it streams, then ends', async () => {
    const req = request();
    const body = new RequestBody(asRequest(req), 0);
    const it1 = tryOf(body);
    req.write('a');
    req.write('b');
    req.end('c');
    expect(Buffer.concat(await take(it1)).toString()).toBe('abc');
    expect(body.replayable).toBe(true);
  });

  it('a second try sends what the first sent again, then the rest as it comes: nothing lost, nothing twice', async () => {
    const req = request();
    const body = new RequestBody(asRequest(req), 0);
    const first = tryOf(body);
    // (A stream's iterator hands out all that is buffered at once: one write, one read.)
    req.write('one,');
    expect(Buffer.concat(await take(first, 1)).toString()).toBe('one,');
    req.write('two,');
    expect(Buffer.concat(await take(first, 1)).toString()).toBe('two,');
    // The first try's transport waits for its next chunk when it fails (undici leaves it waiting).
    const dead = first.next();
    expect(body.replayable).toBe(true);
    const second = tryOf(body);
    req.write('three,');
    expect(Buffer.concat(await take(second, 3)).toString()).toBe('one,two,three,');
    // The failed try gets at most the chunk it was already waiting for, which the second got too.
    expect((await dead).value?.toString()).toBe('three,');
    await expect(first.next()).rejects.toThrow(/later try/);
    req.end('four');
    expect(Buffer.concat(await take(second)).toString()).toBe('four');
  });

  it(`keeps at most ${REPLAY_LIMIT} bytes: past them the body streams on and can no longer be replayed`, async () => {
    const req = request();
    const body = new RequestBody(asRequest(req), 0);
    const it1 = tryOf(body);
    req.write(chunk(REPLAY_LIMIT));
    await take(it1, 1);
    expect(body.replayable).toBe(true);
    req.write(chunk(1));
    await take(it1, 1);
    expect(body.replayable).toBe(false);
    req.end(chunk(10));
    expect((await take(it1)).reduce((n, c) => n + c.length, 0)).toBe(10);
  });

  it('settle() (an answer began) lets the body go: no replay after it', async () => {
    const req = request();
    const body = new RequestBody(asRequest(req), 0);
    const it1 = tryOf(body);
    req.write('x');
    await take(it1, 1);
    body.settle();
    expect(body.replayable).toBe(false);
    req.end('y');
    expect(Buffer.concat(await take(it1)).toString()).toBe('y');
  });

  it('a refused connection (nothing read) leaves any body replayable', () => {
    const req = request();
    req.write(chunk(REPLAY_LIMIT * 4));
    const body = new RequestBody(asRequest(req), 0);
    tryOf(body);
    expect(body.replayable).toBe(true);
  });

  it('counts a body against proxy-body-size: the chunk that passes it is never given out', async () => {
    const req = request();
    const body = new RequestBody(asRequest(req), 10);
    const it1 = tryOf(body);
    req.write(chunk(6));
    expect(await take(it1, 1)).toHaveLength(1);
    req.write(chunk(5));
    await expect(it1.next()).rejects.toThrow(/proxy-body-size \(10 bytes\)/);
    expect(body.exceeded).toBe(true);
    expect(body.replayable).toBe(false);
    // The request stream stays open, so the 413 can be written.
    expect(req.destroyed).toBe(false);
  });

  it('a body exactly at the limit passes', async () => {
    const req = request();
    const body = new RequestBody(asRequest(req), 10);
    const it1 = tryOf(body);
    req.end(chunk(10));
    expect(await take(it1)).toHaveLength(1);
    expect(body.exceeded).toBe(false);
  });

  it('a body the client cut (reset, aborted) fails the try instead of ending it', async () => {
    const req = request();
    const body = new RequestBody(asRequest(req), 0);
    const it1 = tryOf(body);
    req.write('part');
    await take(it1, 1);
    // An HTTP/2 stream reset: 'aborted', then a clean-looking end.
    req.emit('aborted');
    req.end();
    await expect(it1.next()).rejects.toThrow(/did not finish/);
    expect(body.replayable).toBe(false);
  });

  it('proxy-send-timeout: fires when the endpoint leaves a chunk untaken, never for a slow client', async () => {
    const req = request();
    const body = new RequestBody(asRequest(req), 0);
    let fired = 0;
    const it1 = tryOf(body, 30, () => fired++);
    // A slow client: the try waits for data, which is not the endpoint's fault.
    const waiting = it1.next();
    await new Promise((r) => setTimeout(r, 60));
    expect(fired).toBe(0);
    req.write('a');
    await waiting;
    // The endpoint does not ask for the next chunk.
    await new Promise((r) => setTimeout(r, 60));
    expect(fired).toBe(1);
    req.end();
    await take(it1);
  });
});
