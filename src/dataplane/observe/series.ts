// The label sets of the request metrics (request-metrics.ts), numbered by the pool so that every
// worker adds a route's requests to the same series, and a number never changes meaning: a new
// table only appends label sets (a removed Ingress keeps its series until the process ends, as
// prom-client's counters would). Bounded: past MAX_SERIES label sets, new ones share OVERFLOW.

import type { Route, RouteTable } from '../../core/model.ts';
import { MAX_SERIES } from './request-metrics.ts';

export interface SeriesLabels {
  readonly namespace: string;
  readonly ingress: string;
  readonly service: string;
}

/** Requests no Ingress routed and that no default backend served: the built-in 404, bad requests. */
export const UNROUTED = 0;
/** Label sets past MAX_SERIES. */
export const OVERFLOW = 1;

/** label set key → series number; travels to the workers with each table. */
export type SeriesIndex = Readonly<Record<string, number>>;

/**
 * The key of a request's labels: its route's Ingress, and the Service of the backend it was
 * routed to (a host's or the table's default backend: its Service, and no Ingress).
 */
export function seriesKey(table: Pick<RouteTable, 'backends'>, backend: string | null, route: Route | null): string {
  const b = backend === null ? undefined : table.backends[backend];
  let namespace = b?.namespace ?? '';
  let ingress = '';
  if (route !== null) {
    const slash = route.ingress.indexOf('/');
    namespace = route.ingress.slice(0, slash);
    ingress = route.ingress.slice(slash + 1);
  }
  return `${namespace}\0${ingress}\0${b?.service ?? ''}`;
}

export class SeriesRegistry {
  readonly #index = new Map<string, number>([['\0\0', UNROUTED], ['\0_overflow\0', OVERFLOW]]);
  readonly #labels: SeriesLabels[] = [
    { namespace: '', ingress: '', service: '' },
    { namespace: '', ingress: '_overflow', service: '' },
  ];

  /** Numbers the label sets of `table` not seen before; returns those alone. */
  add(table: RouteTable): SeriesIndex {
    const added: Record<string, number> = {};
    const add = (backend: string | null, route: Route | null) => {
      const key = seriesKey(table, backend, route);
      if (this.#index.has(key)) return;
      if (this.#labels.length >= MAX_SERIES) {
        this.#index.set(key, OVERFLOW);
        added[key] = OVERFLOW;
        return;
      }
      const [namespace = '', ingress = '', service = ''] = key.split('\0');
      this.#index.set(key, this.#labels.length);
      added[key] = this.#labels.length;
      this.#labels.push({ namespace, ingress, service });
    };
    add(table.defaultBackend, null);
    for (const vh of table.hosts) {
      add(vh.defaultBackend ?? table.defaultBackend, null);
      for (const r of vh.routes) add(r.backend, r);
    }
    return added;
  }

  /** The whole index: every label set numbered so far, with the two built in. */
  index(): SeriesIndex {
    return Object.fromEntries(this.#index);
  }

  /** Every numbered label set, by number. */
  labels(): readonly SeriesLabels[] {
    return this.#labels;
  }
}
