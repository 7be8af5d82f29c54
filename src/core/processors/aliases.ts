// server-alias (core/annotations/server-alias.ts): which aliases are served, as ingress-nginx's
// controller.go decides (createServers, then the allAliases pass): Ingresses in age order; the
// first Ingress naming a host with aliases gives that host its aliases, a later one's are skipped
// ("Aliases already configured for server"); an alias that is a host some Ingress routes, or the
// host itself, is dropped. ingress-nginx drops those silently (or leaves nginx to warn about two
// servers with one name): here each is a condition, GH_SERVER_ALIAS_CONFLICT, and the rest of the
// Ingress is served. An alias of two hosts goes to the first (in host order). A rule with no host
// (the catch-all) already answers every name: its aliases mean nothing and are skipped.
// An alias is served as a copy of its host (routes, default backend, policies); its `tls` is its
// own (a spec.tls binding naming it, or a wildcard one): ingress-nginx gives an alias the host's
// certificate only when that certificate's names cover it, which compile cannot see.

import type { Condition, VirtualHost } from '../model.ts';
import type { KubeObject } from '../snapshot.ts';
import { condition } from './ingress.ts';

export interface AliasRequest {
  /** The Ingress; the requests come in age order. */
  readonly ing: KubeObject;
  readonly aliases: readonly string[];
  /** The Ingress's rule hosts ('' for none). */
  readonly hosts: readonly string[];
  /** The annotation, as a condition's field. */
  readonly field: string;
}

/** The VirtualHosts of the aliases served (not sorted), and a condition for each alias not served. */
export function aliasHosts(requests: readonly AliasRequest[], hosts: readonly VirtualHost[], hasTls: (host: string) => boolean): { hosts: VirtualHost[]; conditions: Condition[] } {
  const byName = new Map(hosts.map((vh) => [vh.host, vh]));
  /** Alias → the host it serves; host → the Ingress whose aliases it took. */
  const taken = new Map<string, string>();
  const aliasedBy = new Map<string, string>();
  const out: VirtualHost[] = [];
  const conditions: Condition[] = [];
  for (const r of requests) {
    const ingress = `${r.ing.metadata.namespace}/${r.ing.metadata.name}`;
    const conflict = (message: string) => conditions.push(condition(r.ing, 'GH_SERVER_ALIAS_CONFLICT', r.field, message));
    for (const host of [...r.hosts].sort()) {
      const vh = byName.get(host);
      if (host === '' || vh === undefined) continue;
      const owner = aliasedBy.get(host);
      if (owner !== undefined && owner !== ingress) {
        conflict(`host ${JSON.stringify(host)} already has the aliases of Ingress ${owner}, which is older; this Ingress's aliases are not served for it`);
        continue;
      }
      aliasedBy.set(host, ingress);
      for (const alias of r.aliases) {
        if (byName.has(alias)) {
          if (alias !== host) conflict(`alias ${JSON.stringify(alias)} is a host an Ingress routes; the alias is not served (that host's own rules apply)`);
          continue;
        }
        const won = taken.get(alias);
        if (won !== undefined) {
          if (won !== host) conflict(`alias ${JSON.stringify(alias)} already serves host ${JSON.stringify(won)}; it is not served for host ${JSON.stringify(host)}`);
          continue;
        }
        taken.set(alias, host);
        out.push({ ...vh, host: alias, tls: hasTls(alias) });
      }
    }
  }
  return { hosts: out, conditions };
}
