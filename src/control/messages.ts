// The messages between the control plane and the data-plane workers: plain data only
// (DESIGN.md, habit 5). Each worker builds its own router from a table.

import type { EndpointTable, RouteTable } from '../core/model.ts';
import type { LogLevel } from '../observability/log.ts';

export interface WorkerConfig {
  readonly id: number;
  readonly httpPort: number;
  readonly bindAddress: string;
  readonly connectTimeoutMs: number;
  readonly readTimeoutMs: number;
  readonly logLevel: LogLevel;
}

export type ToWorker =
  /**
   * New state, applied as one step: a table that adds a backend travels with the endpoints
   * of that backend, so no request sees the route before its endpoints. Either may be absent
   * (unchanged).
   */
  | { readonly type: 'update'; readonly table?: RouteTable; readonly endpoints?: EndpointTable }
  | { readonly type: 'drain'; readonly graceMs: number };

export type FromWorker =
  /** The worker serves this table generation and endpoint table (and listens). */
  | { readonly type: 'ack'; readonly generation: number; readonly endpoints: string }
  | { readonly type: 'listen-failed'; readonly message: string }
  | { readonly type: 'drained' };
