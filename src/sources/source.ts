// The small interface between a source (manifest directory, Kubernetes informers) and the
// control plane (DESIGN.md, "Data flow" 1–2). A source only reports object events; the
// control plane owns the snapshot, marks it dirty and decides when to compile.

import type { Kind } from '../core/model.ts';
import type { KubeObject } from '../core/snapshot.ts';

/**
 * Where a source delivers object events. Every call is synchronous and cheap (the control
 * plane only updates its snapshot and marks it dirty), so a source may deliver a whole
 * batch in one go and the control plane compiles once for it.
 *
 * Batches: a source calls `synced()` once it has delivered its initial full load (even
 * when that load is empty), and again after every later batch that delivered at least one
 * `upsert` or `remove`; a batch that changes nothing calls nothing. So the first
 * `synced()` means "the snapshot is complete, you may compile and become ready", and each
 * later one means "this batch is complete". A control plane that keeps its own holdoff may
 * compile on `synced()` or simply debounce on upsert/remove; it must not compile before
 * the first `synced()`, since the snapshot is partial until then.
 */
export interface SourceSink {
  /** The object is new or its content changed. Sources do not resend unchanged objects. */
  upsert(object: KubeObject): void;
  /** The object is gone. `namespace` is '' for cluster-scoped kinds (IngressClass). */
  remove(kind: Kind, namespace: string, name: string): void;
  /** The initial full load, or a later batch, is complete (see above). */
  synced(): void;
}

export interface Source {
  /**
   * Starts delivering to `sink`. Resolves after the initial full load has been delivered
   * and `sink.synced()` called; rejects when the source cannot start at all (for example,
   * its directory does not exist). Later problems are logged and retried, never thrown.
   * May be called once.
   */
  start(sink: SourceSink): Promise<void>;
  /** Stops watching; nothing is delivered once the promise resolves. Safe to call twice. */
  close(): Promise<void>;
}

/** The part of pino's interface sources use: `log.warn({ file, code }, 'message')`. */
export interface Log {
  debug(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

/** A Log that drops everything, the default when no logger is given. */
export const silentLog: Log = {
  debug() {},
  info() {},
  warn() {},
  error() {},
};
