// JSON logs (pino). Every thread writes through its own asynchronous destination: pino's
// synchronous default lost lines under load when several threads shared one stdout pipe
// (DESIGN.md, "Facts").

import pino from 'pino';

export type Log = pino.Logger;
export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent';

export function createLog(level: LogLevel, bindings: Record<string, unknown> = {}): Log {
  const destination = pino.destination({ dest: 1, sync: false, minLength: 0 });
  return pino({ level, base: { pid: process.pid, ...bindings }, timestamp: pino.stdTimeFunctions.isoTime }, destination);
}

/** Write what is buffered (before exit). */
export function flushLog(log: Log): void {
  try {
    log.flush();
  } catch {
    // nothing buffered, or the destination is closed: nothing to lose
  }
}
