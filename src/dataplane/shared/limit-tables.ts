// The shared tables of the rate-limit family (dataplane/policies/rate-limit.ts): the main thread
// creates their buffers once per pool (control/worker-pool.ts) and hands them to every worker in
// its WorkerConfig, as it does the stats buffer; a worker maps them with its own index.

import { ConnectionTable } from './connection-table.ts';
import { RateTable } from './rate-table.ts';

export interface LimitBuffers {
  readonly rates: SharedArrayBuffer;
  readonly connections: SharedArrayBuffer;
}

export class LimitTables {
  readonly rates: RateTable;
  readonly connections: ConnectionTable;

  static createBuffers(workers: number): LimitBuffers {
    return { rates: RateTable.create(), connections: ConnectionTable.create(workers) };
  }

  /** `owner`: the worker's index in the pool. */
  constructor(buffers: LimitBuffers, owner: number) {
    this.rates = new RateTable(buffers.rates, owner);
    this.connections = new ConnectionTable(buffers.connections, owner);
  }

  /** After worker `owner` exited: its locks freed, its requests counted out (main thread). */
  releaseWorker(owner: number): void {
    this.rates.releaseWorker(owner);
    this.connections.releaseWorker(owner);
  }

  /** What the tables could not do exactly (docs/annotations.md "Rate limits"); /debug/table shows them. */
  counters(): { readonly rates: ReturnType<RateTable['counters']>; readonly connections: ReturnType<ConnectionTable['counters']> } {
    return { rates: this.rates.counters(), connections: this.connections.counters() };
  }
}
