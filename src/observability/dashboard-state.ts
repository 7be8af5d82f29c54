// What /debug/state gives the dashboard (observability/dashboard/): the served table trimmed to
// hosts and routes, backends with endpoint health, conditions, certificates with expiry, leader
// and generation. Pure: the controller hands in what it holds. Like the table, it names Secrets
// (`namespace/name`) and never holds their data.

import type { Condition, RoutePolicies } from '../core/model.ts';
import { backendReport, type BackendReport } from './backend-report.ts';
import type { ExplainState } from './explain.ts';

export interface DashboardInput extends Omit<ExplainState, 'ingresses' | 'httpsRedirectPort'> {
  readonly ready: boolean;
  /** Kubernetes mode: whether this replica holds the Lease; null in local mode (no election). */
  readonly leader: boolean | null;
  readonly workers: unknown;
  readonly certificates: readonly { readonly secret: string; readonly hosts: readonly string[]; readonly default: boolean; readonly notAfter: number }[];
  readonly now: number;
}

export interface DashboardState {
  readonly generation: number;
  readonly ready: boolean;
  readonly leader: boolean | null;
  readonly workers: unknown;
  readonly hosts: readonly {
    readonly host: string;
    readonly tls: boolean;
    readonly defaultBackend: string | null;
    readonly routes: readonly { readonly path: string; readonly match: string; readonly ingress: string; readonly backend: string; readonly sslRedirect: boolean; readonly policies: readonly string[] }[];
  }[];
  readonly defaultBackend: string | null;
  readonly ingresses: readonly string[];
  readonly backends: readonly BackendReport[];
  readonly conditions: readonly Condition[];
  readonly certificates: readonly { readonly secret: string; readonly hosts: readonly string[]; readonly default: boolean; readonly notAfter: string; readonly daysLeft: number }[];
}

/** The policy families a route has, by their pipeline step names. */
function policyNames(p: RoutePolicies | undefined): string[] {
  return p === undefined ? [] : Object.keys(p).filter((k) => p[k as keyof RoutePolicies] !== undefined);
}

export function dashboardState(input: DashboardInput): DashboardState {
  const t = input.table;
  const ingresses = new Set<string>();
  const hosts = t.hosts.map((vh) => ({
    host: vh.host,
    tls: vh.tls,
    defaultBackend: vh.defaultBackend,
    routes: vh.routes.map((r) => {
      ingresses.add(r.ingress);
      return { path: r.path, match: r.match, ingress: r.ingress, backend: r.backend, sslRedirect: r.sslRedirect, policies: policyNames(r.policies) };
    }),
  }));
  return {
    generation: t.generation,
    ready: input.ready,
    leader: input.leader,
    workers: input.workers,
    hosts,
    defaultBackend: t.defaultBackend,
    ingresses: [...ingresses].sort(),
    backends: Object.keys(t.backends).map((id) => backendReport(input, id)),
    conditions: input.conditions,
    certificates: input.certificates.map((c) => ({ secret: c.secret, hosts: c.hosts, default: c.default, notAfter: new Date(c.notAfter).toISOString(), daysLeft: Math.floor((c.notAfter - input.now) / 86_400_000) })),
  };
}
