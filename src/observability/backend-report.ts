// A backend with its endpoints and their health, for explain and the dashboard's backends. Its own
// module so that /debug/state (dashboard-state.ts) does without explain.ts, which brings the
// router and the request pipeline into the main thread; explain.ts loads on the first
// /debug/explain.

import type { ActiveHealthPolicy, Backend, PassiveHealthPolicy } from '../core/model.ts';
import type { ExplainState } from './explain.ts';

export interface EndpointReport {
  readonly address: string;
  readonly port: number;
  /** up, down (active checks), ejected (passive health), or unknown (health not known here). */
  readonly state: 'up' | 'down' | 'ejected' | 'unknown';
  readonly why: string;
}

export interface BackendReport {
  readonly id: string;
  readonly service: string;
  readonly target: string;
  readonly health: string;
  readonly endpoints: readonly EndpointReport[];
}

/** A backend with its endpoints and their health (explain, and the dashboard's backends). */
export function backendReport(state: Pick<ExplainState, 'table' | 'endpoints' | 'active' | 'passive'>, id: string): BackendReport {
  const b: Backend | undefined = state.table.backends[id];
  const list = state.endpoints?.backends[id] ?? [];
  const active = new Map((state.active?.[id] ?? []).map((e) => [e.endpoint, e]));
  const passive = new Map((state.passive?.[id] ?? []).map((e) => [e.endpoint, e]));
  const endpoints = list.map((e): EndpointReport => {
    const key = `${e.address}|${e.port}`;
    const a = active.get(key);
    const p = passive.get(key);
    if (a !== undefined && !a.healthy) return { address: e.address, port: e.port, state: 'down', why: `active checks: ${a.streak} failed in a row` };
    if (p !== undefined && p.ejectedForMs > 0) return { address: e.address, port: e.port, state: 'ejected', why: `passive health: ejected for ${Math.ceil(p.ejectedForMs / 1000)} s more (${p.ejections} ejections)` };
    const known = state.active !== null;
    const why = !known ? 'health not known offline (ready in its EndpointSlice)'
      : a !== undefined ? `ready; active checks pass${p ? `; ${p.failures} recent failures` : ''}`
      : `ready in its EndpointSlice${p ? `; passive health: ${p.failures} recent failures` : ''}`;
    return { address: e.address, port: e.port, state: known ? 'up' : 'unknown', why };
  });
  return {
    id,
    service: b ? `${b.namespace}/${b.service}:${b.port}` : id,
    target: b === undefined ? 'unknown backend' : b.target.type === 'endpoints' ? 'EndpointSlice addresses' : b.target.type === 'externalName' ? `ExternalName ${b.target.hostname}:${b.target.port}` : 'the Service does not exist (503)',
    health: healthSummary(b?.health?.active, b?.health?.passive),
    endpoints,
  };
}

function healthSummary(active: ActiveHealthPolicy | undefined, passive: PassiveHealthPolicy | undefined): string {
  const parts: string[] = [];
  if (active) parts.push(`active ${active.protocol} ${active.path} every ${active.intervalMs} ms`);
  if (passive) parts.push(`passive: eject after ${passive.consecutiveFailures} failures`);
  return parts.length ? parts.join('; ') : 'no health checks (ready endpoints are used)';
}
