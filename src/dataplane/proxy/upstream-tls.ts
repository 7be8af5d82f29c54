// Worker side of proxy-ssl-*: a route's UpstreamTlsPolicy and the proxy-ssl-secret PEM that came
// with the table → the TLS options for connections to its HTTPS or GRPCS backend, with an id that
// keys the connection pools (a Pool or HTTP/2 session per origin and TLS configuration, so routes
// with different CAs, client certificates or names never share a connection).
//
// - verify off (ingress-nginx's default): the backend's certificate is not checked.
// - verify on: the chain against ca.crt (or, with no proxy-ssl-secret, Node's bundled public
//   roots), and the name against `policy.name` (proxy-ssl-name, else the Service's DNS name),
//   whatever name SNI carried.
// - tls.crt + tls.key: presented as the client certificate (mTLS), verify on or off.
// - SNI: `policy.name` with proxy-ssl-server-name on; off, none to an IP endpoint (nginx's
//   proxy_ssl_server_name default), and the endpoint's own name to an ExternalName's DNS name.
// A policy whose Secret did not pass the control plane's checks (or lacks ca.crt while verify is
// on) resolves to null: its requests answer 502, never an unverified connection.

import { createHash } from 'node:crypto';
import { isIP } from 'node:net';
import { checkServerIdentity, type ConnectionOptions } from 'node:tls';
import type { UpstreamPolicy, UpstreamTlsPolicy, VirtualHost } from '../../core/model.ts';
import type { UpstreamTlsPem } from '../tls/tls-material.ts';

export interface UpstreamTls {
  /** Same policy and same PEM, same id, across tables. */
  readonly id: string;
  /** tls.connect options, less servername (see `sni`). */
  readonly options: ConnectionOptions;
  /** The SNI to send (proxy-ssl-server-name on), or null: an ExternalName's own name, nothing to an IP. */
  readonly sni: string | null;
}

/** The SNI for a connection to `host` (an IP address or an ExternalName's DNS name). */
export function sniFor(tls: UpstreamTls, host: string): string | undefined {
  return tls.sni ?? (isIP(host) === 0 ? host : undefined);
}

export function upstreamTls(policy: UpstreamTlsPolicy, pem: Readonly<Record<string, UpstreamTlsPem>>): UpstreamTls | null {
  const secret = policy.secret === null ? null : (pem[policy.secret.ref] ?? null);
  if (policy.secret !== null && secret === null) return null;
  if (policy.verify && secret !== null && secret.ca === null) return null;
  const name = policy.name;
  const options: ConnectionOptions = {
    rejectUnauthorized: policy.verify,
    ...(secret?.ca ? { ca: secret.ca } : {}),
    ...(secret?.cert && secret.key ? { cert: secret.cert, key: secret.key } : {}),
    // Node checks the name it connected to (an IP here); the policy names another.
    checkServerIdentity: policy.verify ? (_host, cert) => checkServerIdentity(name, cert) : () => undefined,
  };
  const id = createHash('sha256').update(JSON.stringify([policy.verify, name, policy.serverName, secret])).digest('hex').slice(0, 16);
  return { id, options, sni: policy.serverName ? name : null };
}

/** The TLS configurations of one table, computed once per table and PEM, looked up per request. */
export class UpstreamTlsConfigs {
  private pem: Readonly<Record<string, UpstreamTlsPem>> = {};
  private byPolicy = new WeakMap<UpstreamTlsPolicy, UpstreamTls | null>();

  /** New PEM and/or a new table: recompute; returns the ids in use (the pools to keep). */
  update(pem: Readonly<Record<string, UpstreamTlsPem>> | undefined, hosts: readonly VirtualHost[]): Set<string> {
    if (pem !== undefined) this.pem = pem;
    this.byPolicy = new WeakMap();
    const ids = new Set<string>();
    const visit = (u: UpstreamPolicy | undefined) => {
      if (u?.tls == null) return;
      const t = this.get(u.tls);
      if (t !== null) ids.add(t.id);
    };
    for (const vh of hosts) {
      for (const r of vh.routes) {
        visit(r.upstream);
        visit(r.policies?.canary?.upstream);
      }
      visit(vh.defaultUpstream);
      visit(vh.defaultPolicies?.canary?.upstream);
    }
    return ids;
  }

  /** null: the policy cannot be served (its Secret is missing or invalid): answer 502. */
  get(policy: UpstreamTlsPolicy): UpstreamTls | null {
    let t = this.byPolicy.get(policy);
    if (t === undefined) this.byPolicy.set(policy, (t = upstreamTls(policy, this.pem)));
    return t;
  }
}
