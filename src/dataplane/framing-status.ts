// Framing checks that run before anything else looks at a request (the first step of the
// request pipeline): what Node's parsers let through but a proxy must refuse, because the
// upstream or a later step could read the request differently from us.

/**
 * 400 for more than one Host header line (RFC 9112 §3.2: "a server MUST respond with a 400 …
 * to any HTTP/1.1 request message that … contains more than one Host header field line"; Node
 * keeps the first and drops the rest, so we would route by one Host and forward the other);
 * 431 for more than `maxHeaders` header lines (pseudo-headers of HTTP/2 not counted; HAProxy
 * refuses more than 100 by default); else 0. One pass over the raw list, no allocation.
 */
export function framingStatus(rawHeaders: readonly string[], maxHeaders: number): 0 | 400 | 431 {
  let hosts = 0;
  let pseudo = 0;
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]!;
    if (name.length === 4) {
      if (name === 'host' || name === 'Host' || name.toLowerCase() === 'host') hosts++;
    } else if (name.charCodeAt(0) === 58 /* : */) {
      pseudo++;
    }
  }
  if (rawHeaders.length / 2 - pseudo > maxHeaders) return 431;
  return hosts > 1 ? 400 : 0;
}
