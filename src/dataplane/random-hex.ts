// Random hex for request IDs and trace ids from a pooled buffer: one randomFillSync per 4 KiB
// instead of one randomBytes call per id (measured: randomBytes(16) per request was 3-4 % of a
// worker's CPU under load, loadtest/observability-bench.ts with --cpu-prof).

import { randomFillSync } from 'node:crypto';

const POOL = Buffer.alloc(4096);
let used = POOL.length;

/** `bytes` (at most 4096) random bytes as 2 × `bytes` lower-case hex digits. */
export function randomHex(bytes: number): string {
  if (used + bytes > POOL.length) {
    randomFillSync(POOL);
    used = 0;
  }
  used += bytes;
  return POOL.toString('hex', used - bytes, used);
}
