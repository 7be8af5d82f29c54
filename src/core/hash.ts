// A pure, deterministic fingerprint (cyrb53, 53 bits as hex) for change detection, and the hash
// itself (dataplane/shared/ keys). Not cryptographic: it only has to tell "same table" from
// "different table", and spread keys over a table's buckets.

export function fingerprint(text: string): string {
  return cyrb53(text).toString(16).padStart(14, '0');
}

const digests = new WeakMap<object, string>();

/**
 * fingerprint(JSON.stringify(value)), worked out once per object: only for values never changed
 * once made (compile's hosts and backends, which a compile may keep from the last table).
 */
export function digest(value: object): string {
  let d = digests.get(value);
  if (d === undefined) digests.set(value, (d = fingerprint(JSON.stringify(value))));
  return d;
}

/** cyrb53 of `text` as a number below 2^53; `seed` picks one of 2^32 hash functions. */
export function cyrb53(text: string, seed = 0): number {
  let h1 = 0xdeadbeef ^ seed;
  let h2 = 0x41c6ce57 ^ seed;
  for (let i = 0; i < text.length; i++) {
    const ch = text.charCodeAt(i);
    h1 = Math.imul(h1 ^ ch, 2654435761);
    h2 = Math.imul(h2 ^ ch, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507) ^ Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507) ^ Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  return 4294967296 * (2097151 & h2) + (h1 >>> 0);
}

/** Deep-freeze plain data (tables cross threads as copies; the main thread's copy stays immutable). */
export function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}
