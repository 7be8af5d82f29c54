// Backend references → Backends: which Service port, and where its endpoints come from
// (EndpointSlice ports by the Service port's name, or an ExternalName's DNS name).

import type { Backend, BackendTarget, Condition } from '../model.ts';
import type { KubeObject, Snapshot } from '../snapshot.ts';
import type { BackendRef } from './ingress.ts';
import { externalNameProblem, type ExternalNameProblem } from './external-name.ts';
import { arr, rec, str } from './fields.ts';

export function backendId(ref: BackendRef): string {
  return `${ref.namespace}/${ref.service}:${ref.port}`;
}

export type Resolution = { backend: Backend; problem: null } | { backend: Backend; problem: { code: 'GH_SERVICE_NOT_FOUND' | 'GH_SERVICE_PORT_NOT_FOUND' | ExternalNameProblem['code']; message: string } };

export function resolveBackend(snapshot: Snapshot, ref: BackendRef): Resolution {
  const base = { id: backendId(ref), namespace: ref.namespace, service: ref.service, port: ref.port };
  const missing = (target: BackendTarget) => ({ ...base, target });
  const svc = snapshot.get('Service', ref.namespace, ref.service);
  if (svc === undefined) {
    return { backend: missing({ type: 'missing' }), problem: { code: 'GH_SERVICE_NOT_FOUND', message: `Service ${ref.namespace}/${ref.service} not found` } };
  }
  const spec = rec(svc.spec);
  const ports = arr(spec.ports).map(rec);
  const port = ports.find((p) => (typeof ref.port === 'number' ? p.port === ref.port : p.name === ref.port));

  if (spec.type === 'ExternalName') {
    const hostname = str(spec.externalName);
    const number = typeof ref.port === 'number' ? ref.port : port?.port;
    if (hostname === undefined || hostname === '') {
      return { backend: missing({ type: 'missing' }), problem: { code: 'GH_SERVICE_NOT_FOUND', message: `ExternalName Service ${ref.namespace}/${ref.service} has no spec.externalName` } };
    }
    // Refused targets get no endpoint at all, so they never reach the data plane.
    const refused = externalNameProblem(hostname);
    if (refused !== null) {
      return { backend: missing({ type: 'missing' }), problem: { code: refused.code, message: `ExternalName Service ${ref.namespace}/${ref.service}: spec.externalName ${JSON.stringify(hostname)} ${refused.reason}; it is not proxied to` } };
    }
    if (typeof number === 'number') {
      return { backend: { ...base, target: { type: 'externalName', hostname: hostname.toLowerCase(), port: number } }, problem: null };
    }
  } else if (port !== undefined) {
    const targetPort = port.targetPort === undefined ? port.port : port.targetPort;
    return {
      backend: { ...base, target: { type: 'endpoints', portName: str(port.name) ?? '', targetPort: typeof targetPort === 'number' ? targetPort : null } },
      problem: null,
    };
  }
  return {
    backend: missing({ type: 'missing' }),
    problem: { code: 'GH_SERVICE_PORT_NOT_FOUND', message: `Service ${ref.namespace}/${ref.service} has no port ${JSON.stringify(ref.port)}` },
  };
}

/** --default-backend-service NS/NAME: its first port, as ingress-nginx does. */
export function resolveDefaultBackendService(snapshot: Snapshot, nsName: string, conditions: Condition[]): Backend {
  const [namespace = '', name = ''] = nsName.split('/');
  const svc: KubeObject | undefined = snapshot.get('Service', namespace, name);
  const first = rec(arr(rec(svc?.spec).ports)[0]);
  const port = typeof first.port === 'number' ? first.port : null;
  if (svc !== undefined && port !== null) {
    // Only an ExternalName Service can be unusable here (no externalName, or a refused one).
    const { backend, problem } = resolveBackend(snapshot, { namespace, service: name, port });
    if (problem !== null) conditions.push({ ref: { kind: 'Service', namespace, name }, code: problem.code, field: 'spec.externalName', message: `--default-backend-service ${nsName}: ${problem.message}` });
    return backend;
  }
  conditions.push({
    ref: { kind: 'Service', namespace, name },
    code: 'GH_DEFAULT_BACKEND_SERVICE_NOT_FOUND',
    field: '',
    message: svc === undefined ? `--default-backend-service ${nsName}: Service not found` : `--default-backend-service ${nsName}: Service has no ports`,
  });
  return { id: `${nsName}:default`, namespace, service: name, port: 0, target: { type: 'missing' } };
}

/**
 * service-upstream: `backend` (resolved to endpoints) sent to its Service's ClusterIP and port
 * instead, under its own id (an Ingress without the annotation may route to the same Service port
 * through its endpoints). A Service without a ClusterIP (headless `None`, or none) keeps its
 * endpoints and gets a problem, as ingress-nginx's getServiceClusterEndpoint (it logs an error).
 * Missing and ExternalName backends are as they are.
 */
export function clusterIpBackend(snapshot: Snapshot, backend: Backend): { backend: Backend; problem: string | null } {
  if (backend.target.type !== 'endpoints') return { backend, problem: null };
  const spec = rec(snapshot.get('Service', backend.namespace, backend.service)?.spec);
  const ip = str(spec.clusterIP);
  if (ip === undefined || ip === '' || ip === 'None') {
    return { backend, problem: `service-upstream: Service ${backend.namespace}/${backend.service} has no ClusterIP (${ip === 'None' ? 'it is headless' : 'spec.clusterIP is empty'}); its endpoints are used` };
  }
  const port = typeof backend.port === 'number' ? backend.port : arr(spec.ports).map(rec).find((p) => p.name === backend.port)?.port;
  if (typeof port !== 'number') return { backend, problem: null }; // resolveBackend found the port; unreachable
  return { backend: { ...backend, id: `${backend.id} clusterIP`, target: { type: 'clusterIP', address: ip, port } }, problem: null };
}

/** The first port of Service `namespace/name` (the default-backend annotation's, as ingress-nginx takes Spec.Ports[0]), or null when it has none or does not exist. */
export function firstPortRef(snapshot: Snapshot, namespace: string, name: string): BackendRef | null {
  const first = rec(arr(rec(snapshot.get('Service', namespace, name)?.spec).ports)[0]);
  return typeof first.port === 'number' ? { namespace, service: name, port: first.port } : null;
}
