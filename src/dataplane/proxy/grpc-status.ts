// gRPC answers for requests the proxy itself cannot forward to a GRPC or GRPCS backend
// (no ready endpoint, connection refused or reset, timeout, a TLS check that failed).
//
// ingress-nginx answers such a request with a plain HTTP 502/503/504. A gRPC client turns that
// into UNAVAILABLE too (gRPC's doc/http-grpc-status-mapping.md), but with only "Received HTTP
// status code 502" to say why, and some clients (and proxies in front) treat a non-200 as a
// transport failure rather than a call status. So, as Envoy does for gRPC requests, Gatehouse
// answers a gRPC request (HTTP/2, content-type application/grpc…) with a Trailers-Only response
// (PROTOCOL-HTTP2.md: HTTP status 200, grpc-status and grpc-message in the one HEADERS frame that
// ends the stream): grpc-status 14 UNAVAILABLE, which gRPC clients may retry, and a grpc-message
// saying what failed. Other requests to those backends (a browser, curl) get the plain HTTP error.

import type { ProxyRequest, ProxyResponse } from './proxy.ts';
import { Http2ServerRequest } from 'node:http2';

/** gRPC status codes (https://grpc.github.io/grpc/core/md_doc_statuscodes.html) used here. */
export const GRPC_UNAVAILABLE = 14;

/** A gRPC call: HTTP/2 with content-type application/grpc or application/grpc+<codec>. */
export function isGrpcRequest(req: ProxyRequest): boolean {
  if (!(req instanceof Http2ServerRequest)) return false;
  const ct = req.headers['content-type'];
  return typeof ct === 'string' && (ct === 'application/grpc' || ct.startsWith('application/grpc+') || ct.startsWith('application/grpc;'));
}

/**
 * grpc-message is percent-encoded: bytes outside printable ASCII (0x20-0x7E) and "%" itself
 * (PROTOCOL-HTTP2.md, "Status-Message").
 */
export function encodeGrpcMessage(message: string): string {
  let out = '';
  for (const byte of Buffer.from(message, 'utf8')) {
    out += byte >= 0x20 && byte <= 0x7e && byte !== 0x25 ? String.fromCharCode(byte) : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/** A Trailers-Only gRPC answer with `code` and `message`; a stream already answered is reset instead. */
export function sendGrpcError(res: ProxyResponse, code: number, message: string): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  // end() with no writeHead() and no body: node:http2 sends one HEADERS frame with END_STREAM
  // (writeHead() would send the headers at once, and end() an empty trailing HEADERS frame).
  res.statusCode = 200;
  res.setHeader('content-type', 'application/grpc');
  res.setHeader('grpc-status', String(code));
  res.setHeader('grpc-message', encodeGrpcMessage(message));
  res.end();
}
