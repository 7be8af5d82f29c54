// proxy-body-size (nginx's client_max_body_size) in the proxy: a request that declares a longer
// body (Content-Length) is answered 413 before anything is sent upstream; one whose length is not
// declared (HTTP/1.1 chunked, HTTP/2 DATA without content-length) is counted as it streams
// (request-body.ts) and, the moment it passes the limit, the upstream request is aborted and the
// client answered 413 (reset, when an answer has already begun). A declared length needs no
// counting: Node's HTTP/1 parser and nghttp2 hold the body to it.

import { constants, Http2ServerResponse } from 'node:http2';
import type { ProxyRequest, ProxyResponse } from './proxy.ts';
import { sendAnswer } from './proxy.ts';

/** Whether the request declares a body longer than `limit` bytes (0: no limit). */
export function declaredTooLarge(req: ProxyRequest, limit: number): boolean {
  if (limit === 0) return false;
  const length = req.headers['content-length'];
  return length !== undefined && Number(length) > limit;
}

/** Whether the body must be counted against `limit`: it has no declared length. */
export function mustCount(req: ProxyRequest, limit: number): boolean {
  return limit !== 0 && req.headers['content-length'] === undefined;
}

/**
 * 413, or a reset when the answer has begun. HTTP/1.1: the connection closes after it, as the rest
 * of the body will not be read. HTTP/2: the stream is then reset with NO_ERROR, which asks the
 * client to stop sending (RFC 9113 §8.1).
 */
export function sendTooLarge(res: ProxyResponse): void {
  const answered = res.headersSent;
  sendAnswer(res, 413, {}, true);
  // close(NO_ERROR) waits for the answer to be sent, then resets.
  if (!answered && res instanceof Http2ServerResponse && !res.stream.closed) res.stream.close(constants.NGHTTP2_NO_ERROR);
}
