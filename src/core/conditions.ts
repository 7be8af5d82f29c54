// Identity and order of conditions, shared by compile, the controller (which logs each new
// one once) and the Event recorder (which records each once while it persists).

import type { Condition } from './model.ts';

/** Two conditions with the same key are the same problem. */
export function conditionKey(c: Condition): string {
  return `${c.ref.kind}/${c.ref.namespace}/${c.ref.name} ${c.field} ${c.code} ${c.message}`;
}

/** Sorted by object, then field, then code: output never depends on arrival order. */
export function sortConditions(list: Condition[]): Condition[] {
  const key = (c: Condition) => `${c.ref.kind}/${c.ref.namespace}/${c.ref.name}\0${c.field}\0${c.code}\0${c.message}`;
  return list.sort((a, b) => {
    const ka = key(a);
    const kb = key(b);
    return ka < kb ? -1 : ka > kb ? 1 : 0;
  });
}
