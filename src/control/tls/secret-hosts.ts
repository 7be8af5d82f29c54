// The hosts of a table that name Secrets the control plane reads apart from the table
// (proxy-ssl-secret on an upstream, auth-secret, auth-tls-secret), kept from one table to the next:
// a table's hosts are compared with the last one's (table-diff.ts hostChanges: the hosts compile
// kept are the same objects) and only those added, changed or removed are looked at. The
// resolvers then walk these hosts only, not every host of the table.

import type { VirtualHost } from '../../core/model.ts';
import { indexOfHost, insertionPoint } from '../../core/sorted.ts';
import { hostChanges } from '../../dataplane/table-diff.ts';

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
    if (changes === null) {
      this.#named = hosts.filter(namesSecrets);
      return this.#named;
    }
    const named = this.#named.slice();
    for (const host of changes.removed) {
      const at = indexOfHost(named, host);
      if (at !== -1) named.splice(at, 1);
    }
    for (const vh of changes.changed) {
      const at = indexOfHost(named, vh.host);
      if (at !== -1) {
        if (namesSecrets(vh)) named[at] = vh;
        else named.splice(at, 1);
      } else if (namesSecrets(vh)) named.splice(insertionPoint(named, vh.host), 0, vh);
    }
    this.#named = named;
    return named;
  }
}
