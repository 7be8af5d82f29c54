// An endpoint as `host:port`. Its own module so that the control plane (the dashboard's endpoint
// list) can name endpoints without loading upstream-pools.ts and undici into the main thread.

import type { Endpoint } from '../../core/model.ts';

/** `host:port`, an IPv6 address in brackets. */
export function authority(e: Endpoint): string {
  return e.address.includes(':') ? `[${e.address}]:${e.port}` : `${e.address}:${e.port}`;
}
