// The HTTPS server's HTTP/2 responses: node:http2's compatibility response, without the trailing
// frame it ends every answer with.
//
// Http2ServerResponse responds with `waitForTrailers: true` whatever it answers, so that
// addTrailers() can be called until end(). The stream then ends with one more frame after the
// body (an empty DATA frame with END_STREAM when no trailers were added), sent in a turn of its
// own: measured with h2load -c50 -m1 on a bare compatibility-API proxy, 12–14 µs of CPU per
// request (~20 %). Only answers relayed from HTTP/2 backends can carry trailers (gRPC's
// grpc-status: h2-upstream.ts), and those say so with expectTrailers() before their head is sent;
// every other answer ends with its last DATA frame, as nginx's do.
//
// Node has no option for it: the subclass replaces the method that sends the head, found by its
// symbol's description. Should a Node release rename it, the stock class is used (every answer
// correct, the frame back), and test/e2e/http2.test.ts, which counts an answer's frames, fails.

import { Http2ServerResponse, type Http2ServerRequest, type OutgoingHttpHeaders, type ServerStreamResponseOptions } from 'node:http2';

const BEGIN_SEND = Object.getOwnPropertySymbols(Http2ServerResponse.prototype).find((s) => s.description === 'begin-send');

const withTrailers = new WeakSet<object>();

/** The answer `res` may get trailers (addTrailers) after its head: keep the stream open for them. */
export function expectTrailers(res: object): void {
  withTrailers.add(res);
}

class LeanHttp2ServerResponse extends Http2ServerResponse {}

if (BEGIN_SEND !== undefined) {
  const stock = (Http2ServerResponse.prototype as unknown as Record<symbol, (this: Http2ServerResponse) => void>)[BEGIN_SEND]!;
  /** The symbol of a response's own header object, as the stock method sends it (getHeaders() copies it): found on the first response. */
  let own: symbol | null | undefined;
  Object.defineProperty(LeanHttp2ServerResponse.prototype, BEGIN_SEND, {
    value(this: Http2ServerResponse): void {
      if (withTrailers.has(this)) return stock.call(this);
      own ??= Object.getOwnPropertySymbols(this).find((s) => s.description === 'headers') ?? null;
      const headers = (own === null ? this.getHeaders() : (this as unknown as Record<symbol, unknown>)[own]) as Record<string, unknown>;
      headers[':status'] = this.statusCode;
      // sendDate: Node's own option (a Date header unless the response turned it off), not in its types.
      this.stream.respond(headers as OutgoingHttpHeaders, { endStream: this.writableEnded, sendDate: this.sendDate } as ServerStreamResponseOptions);
    },
  });
}

/** The response class for createSecureServer's `Http2ServerResponse` option. */
export const Http2Response: typeof Http2ServerResponse<Http2ServerRequest> = BEGIN_SEND === undefined ? Http2ServerResponse : LeanHttp2ServerResponse;
