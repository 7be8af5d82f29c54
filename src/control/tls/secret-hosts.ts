// The hosts of a table that name Secrets the control plane reads apart from the table
// (proxy-ssl-secret on an upstream, auth-secret, auth-tls-secret), kept from one table to the next:
// a table's hosts are compared with the last one's (table-diff.ts hostChanges: the hosts compile
// kept are the same objects) and only those added, changed or removed are looked at. The
// resolvers then walk these hosts only, not every host of the table.

import type { VirtualHost } from '../../core/model.ts';
import { hostChanges, spliceHosts } from '../../dataplane/table-diff.ts';

/** Whether a host names a Secret the control plane reads: an upstream's (proxy-ssl-secret), basic auth's or client certificates'. */
export function namesSecrets(vh: VirtualHost): boolean {
  if (vh.defaultUpstream !== undefined || vh.defaultPolicies?.basicAuth !== undefined || vh.defaultPolicies?.clientCert !== undefined) return true;
  return vh.routes.some((r) => r.upstream !== undefined || r.policies?.basicAuth !== undefined);
}

export class SecretHosts {
  #last: readonly VirtualHost[] | null = null;
  /** Sorted by host. */
  #named: VirtualHost[] = [];

  /** The hosts of `hosts` that name Secrets (namesSecrets), in their order. */
  update(hosts: readonly VirtualHost[]): readonly VirtualHost[] {
    const changes = this.#last === null ? null : hostChanges(this.#last, hosts);
    this.#last = hosts;
    // Changed hosts that name Secrets no more leave the list like removed ones.
    const next = changes === null ? null : spliceHosts(this.#named, changes.changed.filter(namesSecrets), [...changes.removed, ...changes.changed.filter((vh) => !namesSecrets(vh)).map((vh) => vh.host)]);
    this.#named = next ?? hosts.filter(namesSecrets);
    return this.#named;
  }
}
