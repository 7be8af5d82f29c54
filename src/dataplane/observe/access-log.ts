// The access log: one JSON line per request (issue 11 item 2), written by each worker itself in
// batches (AccessLog below: fs.write from the worker's own thread pool, so lines never cross the
// main thread, and a write per batch rather than per line: measured in
// loadtest/observability-bench.ts, a write per line cost more than the rest of the log). Never the Authorization header or cookies (they are not
// read), and query values whose names look secret are replaced (their names are kept).

import { fstatSync, openSync, write, writeSync } from 'node:fs';

/** Query parameter names whose values are not logged (substring match, any case). */
const SECRET_NAME = /token|key|pass|secret|sig|auth|session|credential|code/i;
const REDACTED = 'REDACTED';

/** `url` with the values of its secret-looking query parameters replaced. */
export function redactUrl(url: string): string {
  const q = url.indexOf('?');
  if (q === -1) return url;
  const parts = url.slice(q + 1).split('&');
  let changed = false;
  for (let i = 0; i < parts.length; i++) {
    const p = parts[i]!;
    const eq = p.indexOf('=');
    if (eq === -1) continue;
    let name = p.slice(0, eq);
    try {
      name = decodeURIComponent(name);
    } catch {
      // a malformed escape: match the name as sent
    }
    if (SECRET_NAME.test(name)) {
      parts[i] = `${p.slice(0, eq)}=${REDACTED}`;
      changed = true;
    }
  }
  return changed ? `${url.slice(0, q)}?${parts.join('&')}` : url;
}

/** One access-log line's fields (docs/metrics.md, "Access log"). */
export interface AccessLogEntry {
  time: string;
  requestId: string | null;
  clientIp: string;
  method: string;
  host: string;
  path: string;
  protocol: string;
  status: number;
  bytesIn: number;
  bytesOut: number;
  durationMs: number;
  upstreamAddress: string | null;
  upstreamStatus: number | null;
  upstreamDurationMs: number | null;
  namespace: string;
  ingress: string;
  service: string;
  userAgent: string | null;
  tls: string | null;
  traceId: string | null;
}

/**
 * Characters per write to a pipe: a pipe takes PIPE_BUF (4096) bytes in one write without
 * interleaving another writer's, and a line's characters (latin1 from the wire) are at most 2
 * bytes each in UTF-8.
 */
const PIPE_CHUNK = 2048;
/** Characters to a regular file per write. */
const FILE_CHUNK = 65_536;
/** The longest a line waits for its batch. */
const FLUSH_MS = 200;
/** Bytes held while writes cannot keep up; past it, lines are dropped (and counted), never waited for. */
const MAX_PENDING = 8 * 1024 * 1024;

/**
 * Lines batched per worker and written with one asynchronous fs.write per batch (one in flight),
 * cut at line ends: on a pipe (a container's standard output) each write is at most PIPE_BUF
 * bytes, which the kernel never interleaves with another worker's, so lines stay whole.
 */
export class AccessLog {
  readonly #fd: number;
  readonly #chunk: number;
  readonly #dropped: (n: number) => void;
  #lines: string[] = [];
  #bytes = 0;
  #writing = false;
  /** flush() came while a write was in flight: what is held goes right after it. */
  #draining = false;
  #timer: NodeJS.Timeout | null = null;

  /** `path`: a file to append to; null: standard output. `dropped`: lines lost to a log that cannot keep up. */
  constructor(path: string | null, dropped: (n: number) => void) {
    this.#fd = path === null ? 1 : openSync(path, 'a');
    this.#chunk = fstatSync(this.#fd).isFile() ? FILE_CHUNK : PIPE_CHUNK;
    this.#dropped = dropped;
  }

  write(e: AccessLogEntry): void {
    const line = `${JSON.stringify(e)}\n`;
    if (this.#bytes > MAX_PENDING) return this.#dropped(1);
    this.#lines.push(line);
    this.#bytes += line.length;
    if (this.#bytes >= this.#chunk) this.#next();
    else this.#timer ??= setTimeout(() => this.#next(), FLUSH_MS).unref();
  }

  /** One batch of whole lines, at most a chunk (a longer line alone). */
  #take(): string {
    let n = 0;
    let size = 0;
    while (n < this.#lines.length && (n === 0 || size + this.#lines[n]!.length <= this.#chunk)) size += this.#lines[n++]!.length;
    const all = n === this.#lines.length;
    const batch = (all ? this.#lines : this.#lines.splice(0, n)).join('');
    if (all) this.#lines = [];
    this.#bytes -= size;
    return batch;
  }

  #next(): void {
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
    if (this.#writing || this.#lines.length === 0) return;
    this.#writing = true;
    write(this.#fd, this.#take(), null, 'utf8', () => {
      // A failed write (a closed pipe) loses its batch; the next ones are tried still.
      this.#writing = false;
      if (this.#lines.length === 0) this.#draining = false;
      if (this.#bytes >= this.#chunk || (this.#draining && this.#lines.length > 0)) this.#next();
      else if (this.#lines.length > 0) this.#timer ??= setTimeout(() => this.#next(), FLUSH_MS).unref();
    });
  }

  /** Write what is held now: synchronously, or right after a write in flight (drain, exit). */
  flush(): void {
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
    this.#draining = this.#writing;
    while (this.#lines.length > 0 && !this.#writing) {
      try {
        writeSync(this.#fd, this.#take());
      } catch {
        return;
      }
    }
  }
}
