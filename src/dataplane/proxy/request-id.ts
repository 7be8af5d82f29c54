// X-Request-ID, as ingress-nginx's `$req_id` (nginx.tmpl: `map $http_x_request_id $req_id`): the
// client's X-Request-ID when it sent one, else a new random id of 32 hex digits (nginx's
// $request_id: 16 random bytes). Every request gets one (observe/request-observer.ts); the error pages send it.

import { randomHex } from '../random-hex.ts';

/** The request's id: `sent` (its X-Request-ID header; the first of several), else a new one. */
export function requestId(sent: string | string[] | undefined): string {
  const v = Array.isArray(sent) ? sent[0] : sent;
  return v !== undefined && v !== '' ? v : randomHex(16);
}
