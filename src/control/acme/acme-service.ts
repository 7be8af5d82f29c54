// The small interfaces between the controller and ACME (issue 4, item 6). The controller owns the
// snapshot and the worker pool; the ACME manager gets what it needs through `AcmeHost`, and the
// controller sees it only as an `AcmeService`: it is started before the source, told every
// compile's requests, asked for its conditions, and closed.

import type { AcmeRequest, Condition } from '../../core/model.ts';
import type { KubeObject } from '../../core/snapshot.ts';

/** What the controller lends the ACME manager. */
export interface AcmeHost {
  /** Puts an object into the snapshot (local mode: the Secrets the storage keeps). */
  upsert(object: KubeObject): void;
  /** A Secret as the snapshot holds it now. */
  secret(namespace: string, name: string): KubeObject | undefined;
  /** Every worker answers these tokens (and no others); resolves once every worker does. */
  serveChallenges(tokens: Readonly<Record<string, string>>): Promise<void>;
  /** The manager's conditions changed outside a compile (an order failed, or succeeded again). */
  conditionsChanged(): void;
}

export interface AcmeStats {
  /** Orders created at the CA (newOrder requests that succeeded). */
  readonly orders: number;
  /** Certificates obtained. */
  readonly issued: number;
  /** Failed attempts (ordering or storing). */
  readonly failures: number;
  /** Epoch ms of the attempts to order (the last 100), oldest first: the backoff shows in the gaps. */
  readonly attempts: readonly number[];
  /** Certificates written into Secrets. */
  readonly writes: number;
}

export interface AcmeService {
  /** Before the source starts: stored certificates go into the snapshot; tokens start flowing. */
  start(host: AcmeHost): Promise<void>;
  /** After every compile: the certificates the annotated Ingresses ask for now. */
  update(requests: readonly AcmeRequest[]): void;
  /** Failed orders and writes, on the Ingresses that asked. */
  conditions(): readonly Condition[];
  stats(): AcmeStats;
  /** Stops timers and watches; an order in flight is abandoned. Safe to call twice. */
  close(): Promise<void>;
}

/** Timings, all optional; the defaults suit a real CA (tests pass short ones). */
export interface AcmeTimings {
  /** First retry after a failure; doubles with each failure in a row, up to retryMaxMs. Default 1 min. */
  readonly retryMinMs?: number;
  /** Default 1 h. */
  readonly retryMaxMs?: number;
  /** Every certificate is checked for renewal this often (and at start, and on every compile). Default 1 h. */
  readonly checkIntervalMs?: number;
  /**
   * After this replica's workers serve a token, wait this long before asking the CA to validate,
   * so that the other replicas (which learn tokens through the cluster) serve it too. Default: 0
   * in local mode, 3 s in Kubernetes mode.
   */
  readonly propagationMs?: number;
  /** Polling the CA for a challenge or order status: first delay and cap (acme-client's backoff). Default 1 s, 10 s. */
  readonly pollMinMs?: number;
  readonly pollMaxMs?: number;
  /** How long the workers may take to serve new tokens. Default 30 s. */
  readonly serveTimeoutMs?: number;
  /** Each request to the CA. Default 30 s. */
  readonly requestTimeoutMs?: number;
  /** A Secret written but still not showing the certificate after this long is written again (no new order). Default 1 min. */
  readonly rewriteAfterMs?: number;
}

/** Leadership as ACME sees it: local mode always leads; Kubernetes mode follows the Lease. */
export interface AcmeLeadership {
  isLeader(): boolean;
  /** Called when leadership is gained or lost. */
  onChange(listener: () => void): void;
}

export const ALWAYS_LEADER: AcmeLeadership = { isLeader: () => true, onChange: () => undefined };
