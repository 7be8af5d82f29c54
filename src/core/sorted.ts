// Binary search over lists sorted by host name (compile's hosts and TLS bindings; the workers' tables).

/** Index of `host` in `hosts` (sorted by host), or -1. */
export function indexOfHost(hosts: readonly { readonly host: string }[], host: string): number {
  const at = insertionPoint(hosts, host);
  return hosts[at]?.host === host ? at : -1;
}

/** Where `host` goes in `hosts` (sorted by host): the index of the first host not below it. */
export function insertionPoint(hosts: readonly { readonly host: string }[], host: string): number {
  let lo = 0;
  let hi = hosts.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (hosts[mid]!.host < host) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
