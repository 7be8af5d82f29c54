// The messages between the control plane and the data-plane workers: plain data only
// (DESIGN.md, habit 5). Each worker builds its own router from a table.

import type { EndpointTable, RouteTable } from '../core/model.ts';
import type { AcmeChallenges } from '../dataplane/acme-challenges.ts';
import type { ActiveHealth } from '../dataplane/balancer/endpoint-health.ts';
import type { HstsPolicy } from '../dataplane/proxy/redirect.ts';
import type { LimitBuffers } from '../dataplane/shared/limit-tables.ts';
import type { TableDiff } from '../dataplane/table-diff.ts';
import type { TlsMaterial } from '../dataplane/tls/tls-material.ts';
import type { LogLevel } from '../observability/log.ts';
import type { ObserverConfig } from '../dataplane/observe/request-observer.ts';
import type { SeriesIndex } from '../dataplane/observe/series.ts';

export interface WorkerConfig {
  readonly id: number;
  readonly httpPort: number;
  readonly bindAddress: string;
  /** --max-request-headers and --max-request-header-bytes: beyond them, 431. */
  readonly maxRequestHeaders: number;
  readonly maxRequestHeaderBytes: number;
  readonly logLevel: LogLevel;
  /** HTTPS listener (--https-port): HTTP/2 and HTTP/1.1 by ALPN, certificates by SNI. */
  readonly httpsPort: number;
  /** --https-redirect-port: the port https redirects name (443: none in the URL). */
  readonly httpsRedirectPort: number;
  /** Strict-Transport-Security on HTTPS responses (--hsts), or null. */
  readonly hsts: HstsPolicy | null;
  /** The pool's per-worker counters (dataplane/worker-stats.ts); the worker adds to row `id`. */
  readonly stats: SharedArrayBuffer;
  /** The pool's rate-limit and connection tables (dataplane/shared/limit-tables.ts); the worker maps them as `id`. */
  readonly limits: LimitBuffers;
  /** The pool's passive-health table (dataplane/shared/ejection-table.ts). */
  readonly ejections: SharedArrayBuffer;
  /** The pool's request metrics (dataplane/observe/request-metrics.ts); the worker adds to region `id`. */
  readonly metrics: SharedArrayBuffer;
  /** Metrics, access log and span export switches (--enable-metrics, --access-log-*, --otlp-*). */
  readonly observe: ObserverConfig;
}

export type ToWorker =
  /**
   * New state, applied as one step: a table that adds a backend travels with the endpoints
   * of that backend, so no request sees the route before its endpoints. Either may be absent
   * (unchanged).
   */
  | {
      readonly type: 'update';
      readonly table?: RouteTable;
      /** Instead of `table`, after the first: the new table as a change from the one the worker serves. */
      readonly tableDiff?: TableDiff;
      readonly endpoints?: EndpointTable;
      /** The certificates of `table` (or re-checked ones); travels with the table that names them. */
      readonly tls?: TlsMaterial;
      /** Session-ticket keys, newest first (48 bytes each); the same in every worker. */
      readonly ticketKeys?: readonly Uint8Array[];
      /** ACME HTTP-01 tokens to answer (token → key authorization); replaces the previous set. */
      readonly challenges?: AcmeChallenges;
      /** The active health checks' verdict (control/health/); replaces the previous one. */
      readonly health?: ActiveHealth;
      /** The metrics series numbers of the label sets (dataplane/observe/series.ts); travels with every table. */
      readonly series?: SeriesIndex;
    }
  | { readonly type: 'drain'; readonly graceMs: number };

export type FromWorker =
  /** The worker serves this table generation, endpoint table and challenge version (and listens). */
  | { readonly type: 'ack'; readonly generation: number; readonly endpoints: string; readonly challenges: number }
  | { readonly type: 'listen-failed'; readonly message: string }
  /** A table diff did not apply (the worker kept an older table after a failed update): send the whole table. */
  | { readonly type: 'need-table' }
  | { readonly type: 'drained' };
