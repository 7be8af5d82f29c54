// The access log: one JSON line per request (issue 11 item 2), written by each worker through its
// own asynchronous destination (pino's SonicBoom on a file descriptor: fs.write from the worker's
// own thread pool, so lines never cross the main thread, and lines written while a write is in
// flight go out together in the next one). Never the Authorization header or cookies (they are not
// read), and query values whose names look secret are replaced (their names are kept).

import pino from 'pino';

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

export class AccessLog {
  readonly #dest: ReturnType<typeof pino.destination>;

  /** `path`: a file to append to; null: standard output. */
  constructor(path: string | null) {
    this.#dest = pino.destination({ dest: path ?? 1, sync: false, minLength: 0, mkdir: path !== null });
  }

  write(e: AccessLogEntry): void {
    this.#dest.write(`${JSON.stringify(e)}\n`);
  }

  /** Write what is buffered now (drain, exit). */
  flush(): void {
    try {
      this.#dest.flushSync();
    } catch {
      // nothing buffered, or a write is in flight and will finish on its own
    }
  }
}
