// The data-plane pool: N worker threads that each listen on the same port (reusePort).
// The control plane sends each one the latest table and endpoints; each acks what it
// serves. A worker that dies is replaced and handed the latest state; the others keep
// serving. drain() implements the SIGTERM sequence. Every worker gets the same certificates
// and session-ticket keys.

import { EventEmitter } from 'node:events';
import { Worker } from 'node:worker_threads';
import type { EndpointTable, RouteTable } from '../core/model.ts';
import { NO_CHALLENGES, type AcmeChallenges } from '../dataplane/acme-challenges.ts';
import { TableDiffer } from '../dataplane/table-diff.ts';
import type { TlsMaterial } from '../dataplane/tls/tls-material.ts';
import { LimitTables } from '../dataplane/shared/limit-tables.ts';
import { EjectionTable } from '../dataplane/shared/ejection-table.ts';
import type { ActiveHealth } from '../dataplane/balancer/endpoint-health.ts';
import { createStatsBuffer, WorkerStats, type StatName } from '../dataplane/worker-stats.ts';
import type { Log } from '../observability/log.ts';
import { createMetricsBuffer, MetricsReader } from '../dataplane/observe/request-metrics.ts';
import { SeriesRegistry, type SeriesIndex } from '../dataplane/observe/series.ts';
import type { FromWorker, ToWorker, WorkerConfig } from './messages.ts';

const WORKER_URL = new URL('../dataplane/worker.ts', import.meta.url);

export interface WorkerStatus {
  readonly id: number;
  readonly threadId: number;
  /** Table generation the worker serves; 0 before its first. */
  readonly generation: number;
  /** Fingerprint of the endpoint table the worker serves. */
  readonly endpoints: string;
  /** Version of the ACME challenge tokens the worker serves. */
  readonly challenges: number;
  readonly restarts: number;
  /** The worker's counters (TLS handshakes, resumed sessions), kept across its restarts. */
  readonly counters: Readonly<Record<StatName, number>>;
}

/** What the pool is built with: the workers' config, less what the pool fills in. */
export type PoolConfig = Omit<WorkerConfig, 'id' | 'stats' | 'limits' | 'ejections' | 'metrics'>;

/** What the workers serve; a worker starts listening once it has all of it. */
export interface WorkerState {
  table: RouteTable;
  endpoints: EndpointTable;
  tls: TlsMaterial;
  ticketKeys: readonly Uint8Array[];
  /** ACME HTTP-01 tokens; none until the ACME manager publishes some. */
  challenges: AcmeChallenges;
  /** The active health checks' verdict; none down until the checker publishes one. */
  health: ActiveHealth;
}

interface Slot {
  id: number;
  worker: Worker;
  generation: number;
  endpoints: string;
  challenges: number;
  restarts: number;
  /** Crashes in a row without serving; drives the restart backoff. */
  crashes: number;
  drained: boolean;
}

export class WorkerPool extends EventEmitter<{ ack: []; fatal: [Error] }> {
  private readonly slots: Slot[] = [];
  private state: Partial<WorkerState> = { challenges: NO_CHALLENGES, health: { down: {} } };
  /** After the first, a table travels as the change from the previous one (dataplane/table-diff.ts). */
  private readonly differ = new TableDiffer();
  private stopping = false;
  /** Every worker has acked a generation once (set on that ack, not when /readyz first asks). */
  private started = false;
  private readonly config: Omit<WorkerConfig, 'id'>;
  private readonly log: Log;
  /** The workers' shared rate-limit tables, as the main thread sees them (to release a dead worker's share). */
  readonly limits: LimitTables;
  /** The workers' passive-health table, as the main thread sees it (/debug/table). */
  readonly ejections: EjectionTable;
  /** The workers' request metrics, summed at scrape time (observability/metrics.ts). */
  readonly metrics: MetricsReader;
  /** The label sets of the metrics series, numbered once for every worker. */
  readonly series = new SeriesRegistry();
  /** Every label set numbered so far (grows with each table: a number never changes meaning). */
  private readonly seriesIndex: Record<string, number> = { ...this.series.index() };
  /** Tables every worker came to serve (gatehouse_config_applies_total), and when the last one was (epoch ms; 0: none). */
  applies = 0;
  lastApply = 0;
  private appliedGeneration = 0;

  constructor(config: PoolConfig, size: number, log: Log) {
    super();
    this.config = { ...config, stats: createStatsBuffer(size), limits: LimitTables.createBuffers(size), ejections: EjectionTable.create(), metrics: createMetricsBuffer(size) };
    this.metrics = new MetricsReader(this.config.metrics);
    this.limits = new LimitTables(this.config.limits, 0);
    this.ejections = new EjectionTable(this.config.ejections, size);
    this.log = log;
    for (let id = 0; id < size; id++) this.slots.push(this.spawn(id, 0));
  }

  private complete(): WorkerState | null {
    const { table, endpoints, tls, ticketKeys, challenges, health } = this.state;
    return table && endpoints && tls && ticketKeys && challenges && health ? { table, endpoints, tls, ticketKeys, challenges, health } : null;
  }

  private spawn(id: number, restarts: number): Slot {
    const worker = new Worker(WORKER_URL, { workerData: { ...this.config, id } satisfies WorkerConfig, name: `gatehouse-worker-${id}` });
    const slot: Slot = { id, worker, generation: 0, endpoints: '', challenges: 0, restarts, crashes: this.slots[id]?.crashes ?? 0, drained: false };
    worker.on('message', (m: FromWorker) => this.onMessage(slot, m));
    worker.on('error', (err) => this.log.error({ err, worker: id }, 'worker failed'));
    worker.on('exit', (code) => this.onExit(slot, code));
    const state = this.complete();
    if (state) this.post(slot, { type: 'update', ...state, series: this.seriesIndex });
    return slot;
  }

  private post(slot: Slot, m: ToWorker): void {
    slot.worker.postMessage(m);
  }

  private onMessage(slot: Slot, m: FromWorker): void {
    if (this.slots[slot.id] !== slot) return;
    if (m.type === 'ack') {
      slot.generation = m.generation;
      slot.endpoints = m.endpoints;
      slot.challenges = m.challenges;
      slot.crashes = 0;
      // Latched now: a worker that crashes before anyone asked /readyz must not make it 503.
      this.started ||= this.slots.every((s) => s.generation > 0);
      const generation = this.state.table?.generation ?? 0;
      if (generation !== this.appliedGeneration && this.slots.every((s) => s.generation === generation)) {
        this.appliedGeneration = generation;
        this.applies++;
        this.lastApply = Date.now();
      }
      this.emit('ack');
    } else if (m.type === 'drained') {
      slot.drained = true;
      this.emit('ack');
    } else if (m.type === 'need-table') {
      if (this.state.table) this.post(slot, { type: 'update', table: this.state.table, series: this.seriesIndex });
    } else if (m.type === 'listen-failed') {
      this.emit('fatal', new Error(m.message));
    }
  }

  private onExit(slot: Slot, code: number): void {
    if (this.slots[slot.id] !== slot) return;
    slot.drained = true;
    // Its requests in progress are gone: count them out of the connection limits.
    this.limits.releaseWorker(slot.id);
    this.ejections.releaseWorker(slot.id);
    this.metrics.releaseWorker(slot.id);
    if (this.stopping) return void this.emit('ack');
    slot.crashes++;
    const delay = Math.min(100 * 2 ** (slot.crashes - 1), 5000);
    this.log.error({ worker: slot.id, code, restartInMs: delay }, 'worker exited; replacing it');
    setTimeout(() => {
      if (!this.stopping && this.slots[slot.id] === slot) this.slots[slot.id] = this.spawn(slot.id, slot.restarts + 1);
    }, delay).unref();
  }

  /**
   * Send what changed to every worker, in one message; nothing goes out until the state is
   * complete, and then the first message carries all of it.
   */
  publish(update: Partial<WorkerState>): void {
    const wasComplete = this.complete() !== null;
    const tableDiff = update.table ? this.differ.diff(update.table) : null;
    Object.assign(this.state, update);
    // A diff's unchanged hosts were numbered with their table (series are keyed by Ingress and Service, and never renumbered): only its hosts need it.
    const added: SeriesIndex = update.table ? this.series.add(tableDiff === null ? update.table : { ...update.table, hosts: tableDiff.hosts }) : {};
    Object.assign(this.seriesIndex, added);
    const state = this.complete();
    if (state === null || this.stopping) return;
    const sent = wasComplete ? update : state;
    let m: ToWorker = { type: 'update', ...sent, ...(sent.table ? { series: this.seriesIndex } : {}) };
    if (wasComplete && tableDiff !== null) {
      // The diff, and the series it numbered.
      const { table: _whole, series: _all, ...rest } = m;
      m = { ...rest, tableDiff, ...(Object.keys(added).length > 0 ? { series: added } : {}) };
    }
    for (const s of this.slots) this.post(s, m);
  }

  status(): WorkerStatus[] {
    return this.slots.map((s) => ({
      id: s.id,
      threadId: s.worker.threadId,
      generation: s.generation,
      endpoints: s.endpoints,
      challenges: s.challenges,
      restarts: s.restarts,
      counters: new WorkerStats(this.config.stats, s.id).read(),
    }));
  }

  /** Every worker serves the latest table, endpoint table and ACME challenge tokens. */
  current(): boolean {
    const { table, endpoints, challenges } = this.state;
    return table !== undefined && endpoints !== undefined && this.slots.every((s) => s.generation === table.generation && s.endpoints === endpoints.fingerprint && s.challenges === (challenges?.version ?? 0));
  }

  /**
   * /readyz: every worker has served the first complete generation (a table and its
   * endpoints), and the pool is not draining. It stays true while a crashed worker is
   * replaced: the others keep serving, and taking the replica out of its Service for that
   * would only move load elsewhere.
   */
  ready(): boolean {
    return this.started && !this.stopping;
  }

  /** Resolves once every worker serves the latest table, endpoints and challenge tokens. */
  settled(): Promise<void> {
    return this.until(() => this.current());
  }

  private until(done: () => boolean): Promise<void> {
    if (done()) return Promise.resolve();
    return new Promise((resolve) => {
      const check = () => {
        if (!done()) return;
        this.off('ack', check);
        resolve();
      };
      this.on('ack', check);
    });
  }

  /** Terminate worker `id` as a crash would; the pool replaces it. */
  kill(id: number): Promise<number> {
    return this.slots[id]!.worker.terminate();
  }

  /**
   * Stop accepting, let in-flight requests finish for up to graceMs, then stop every worker.
   * Safe to call twice.
   */
  async drain(graceMs: number): Promise<void> {
    if (!this.stopping) {
      this.stopping = true;
      for (const s of this.slots) this.post(s, { type: 'drain', graceMs });
    }
    const timeout = new Promise<void>((r) => setTimeout(r, graceMs + 1000).unref());
    await Promise.race([this.until(() => this.slots.every((s) => s.drained)), timeout]);
    await Promise.all(this.slots.map((s) => s.worker.terminate()));
  }
}
