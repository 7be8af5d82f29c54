// EndpointSlices → ready addresses per backend. Runs on its own when only EndpointSlices
// changed, so pod churn never recompiles routes (DESIGN.md, habit 6).
// Kubernetes docs, "EndpointSlices": slices belong to a Service through the
// kubernetes.io/service-name label; a port is matched by the Service port's name; a nil
// `ready` condition means ready; consumers use the first address of an endpoint.

import type { Backend, Endpoint, EndpointTable } from './model.ts';
import type { KubeObject, Snapshot } from './snapshot.ts';
import { arr, rec, str } from './processors/fields.ts';
import { deepFreeze, fingerprint } from './hash.ts';

export const SERVICE_NAME_LABEL = 'kubernetes.io/service-name';

function slicesByService(snapshot: Snapshot): Map<string, KubeObject[]> {
  const out = new Map<string, KubeObject[]>();
  for (const slice of snapshot.list('EndpointSlice')) {
    const svc = str(slice.metadata.labels?.[SERVICE_NAME_LABEL]);
    if (svc === undefined) continue;
    const key = `${slice.metadata.namespace}/${svc}`;
    const list = out.get(key);
    if (list) list.push(slice);
    else out.set(key, [slice]);
  }
  return out;
}

function readyEndpoints(slices: readonly KubeObject[], portName: string, targetPort: number | null): Endpoint[] {
  const seen = new Map<string, Endpoint>();
  for (const slice of slices) {
    const ports = arr(slice.ports).map(rec);
    const match = ports.find((p) => (str(p.name) ?? '') === portName);
    const port = typeof match?.port === 'number' ? match.port : ports.length === 0 ? targetPort : null;
    if (port === null || !Number.isInteger(port) || port < 1 || port > 65535) continue;
    for (const ep of arr(slice.endpoints).map(rec)) {
      if (rec(ep.conditions).ready === false) continue;
      const address = str(arr(ep.addresses)[0]);
      if (address === undefined || address === '') continue;
      // Zone and topology hints, kept for topology-aware routing (absent when the slice has none).
      const zone = str(ep.zone);
      const forZones = arr(rec(ep.hints).forZones).flatMap((z) => str(rec(z).name) ?? []);
      seen.set(`${address}|${port}`, { address, port, ...(zone ? { zone } : {}), ...(forZones.length > 0 ? { forZones } : {}) });
    }
  }
  return [...seen.values()].sort((a, b) => (a.address < b.address ? -1 : a.address > b.address ? 1 : a.port - b.port));
}

export function resolveEndpoints(snapshot: Snapshot, backends: Readonly<Record<string, Backend>>): EndpointTable {
  const slices = slicesByService(snapshot);
  const out: Record<string, readonly Endpoint[]> = {};
  for (const id of Object.keys(backends).sort()) {
    const b = backends[id]!;
    const t = b.target;
    out[id] =
      t.type === 'endpoints' ? readyEndpoints(slices.get(`${b.namespace}/${b.service}`) ?? [], t.portName, t.targetPort)
      : t.type === 'externalName' ? [{ address: t.hostname, port: t.port }]
      : t.type === 'clusterIP' ? [{ address: t.address, port: t.port }]
      : [];
  }
  return deepFreeze({ fingerprint: fingerprint(JSON.stringify(out)), backends: out });
}
