// Who the client is when a load balancer or proxy is the TCP peer: nginx's real_ip module as
// ingress-nginx configures it (nginx.tmpl: real_ip_header, set_real_ip_from proxy-real-ip-cidr,
// real_ip_recursive on). Starting from the TCP peer, while the address in hand is trusted, the
// next one to the left is taken: the PROXY header's source (use-proxy-protocol), then the
// addresses of forwarded-for-header from right to left. An element that is no address stops the
// walk (ngx_http_get_forwarded_addr); when every address is trusted, the leftmost is the client.
// With use-forwarded-headers, X-Forwarded-Proto, -Host and -Port from a trusted peer are passed on
// (ingress-nginx's lua_ingress.lua rewrite: pass_access_scheme, best_http_host, pass_port), and
// compute-full-forwarded-for appends the peer to the incoming X-Forwarded-For instead of
// replacing it.

import type { IncomingHttpHeaders } from 'node:http';
import { inRanges, parseCidr, type Cidr } from '../../core/cidr.ts';
import { formatIp, parseIp, type IpBytes } from '../../core/ip-address.ts';
import type { RealIpPolicy } from '../../core/model.ts';
import type { ProxiedAddress } from '../proxy-protocol.ts';
import type { Forwarded } from './headers.ts';

/** One element of an X-Forwarded-For-style header: an address, IPv4 with a port, or [IPv6] with one (ngx_parse_addr_port). */
function parseElement(text: string): IpBytes | null {
  let t = text;
  if (t.startsWith('[')) {
    const close = t.indexOf(']');
    if (close === -1 || !(close === t.length - 1 || /^:\d{1,5}$/.test(t.slice(close + 1)))) return null;
    t = t.slice(1, close);
    return t.includes(':') ? parseIp(t) : null;
  }
  const colon = t.indexOf(':');
  if (colon !== -1 && colon === t.lastIndexOf(':') && t.includes('.')) {
    if (!/^\d{1,5}$/.test(t.slice(colon + 1))) return null;
    t = t.slice(0, colon);
  }
  return parseIp(t);
}

/** A header's value as one string (repeated lines joined, as nginx 1.23+ joins them). */
function headerText(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v.join(', ') : v;
}

/** The first element of a comma-separated header, trimmed; undefined when empty. */
function first(v: string | string[] | undefined): string | undefined {
  const text = headerText(v);
  if (text === undefined) return undefined;
  const comma = text.indexOf(',');
  const out = (comma === -1 ? text : text.slice(0, comma)).trim();
  return out === '' ? undefined : out;
}

export class RealIp {
  private readonly policy: RealIpPolicy;
  private readonly trusted: readonly Cidr[];

  constructor(policy: RealIpPolicy) {
    this.policy = policy;
    this.trusted = policy.trusted.flatMap((c) => parseCidr(c) ?? []);
  }

  private isTrusted(address: string): boolean {
    const ip = parseIp(address);
    return ip !== null && inRanges(this.trusted, ip);
  }

  /**
   * The forwarding of one request. `peer`: the TCP peer (IPv4-mapped unwrapped); `proxied`: the
   * connection's PROXY header; `base`: what the connection says (scheme, Host, port).
   */
  forwarded(peer: string, proxied: ProxiedAddress | undefined, headers: IncomingHttpHeaders, base: Forwarded): Forwarded {
    // The address that sent the request: the PROXY source, believed when the TCP peer is trusted.
    let client = peer;
    let senderTrusted = this.isTrusted(peer);
    if (senderTrusted && proxied !== undefined) {
      client = proxied.source;
      senderTrusted = this.isTrusted(client);
    }
    const header = this.policy.header === null ? undefined : headerText(headers[this.policy.header]);
    if (senderTrusted && header !== undefined) {
      const elements = header.split(',');
      for (let i = elements.length - 1; i >= 0; i--) {
        const element = elements[i]!.trim();
        if (element === '') continue;
        const ip = parseElement(element);
        if (ip === null) break;
        client = formatIp(ip);
        if (!inRanges(this.trusted, ip)) break;
      }
    }
    const out: Forwarded = { ...base, clientIp: client, forwardedFor: client };
    if (!this.policy.forwardedHeaders) return out;
    if (this.policy.fullForwardedFor) {
      // nginx.tmpl's $full_x_forwarded_for: the incoming X-Forwarded-For with the peer (the PROXY
      // source under use-proxy-protocol) appended, trusted or not.
      const incoming = headerText(headers['x-forwarded-for']);
      const appended = proxied?.source ?? peer;
      out.forwardedFor = incoming === undefined || incoming.trim() === '' ? appended : `${incoming}, ${appended}`;
    }
    if (!senderTrusted) return out;
    const proto = first(headers['x-forwarded-proto'])?.toLowerCase();
    if (proto === 'http' || proto === 'https') out.proto = proto;
    const host = first(headers['x-forwarded-host']);
    if (host !== undefined) out.host = host;
    const port = first(headers['x-forwarded-port']);
    if (port !== undefined && /^\d{1,5}$/.test(port) && Number(port) <= 65535) out.port = Number(port);
    return out;
  }
}
