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

// C0 and C1 control characters and DEL. JSON.stringify, which messages use to quote values,
// escapes C0 but leaves DEL and C1 as they are; a condition's text goes into logs, Events and
// status, so none may carry one.
// eslint-disable-next-line no-control-regex -- control characters are what is matched
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/g;

export function printable(text: string): string {
  return text.replace(CONTROL, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** The conditions with every control character in field and message written as a \\uXXXX escape. */
export function printableConditions(list: Condition[]): Condition[] {
  for (let i = 0; i < list.length; i++) {
    const c = list[i]!;
    const field = printable(c.field);
    const message = printable(c.message);
    if (field !== c.field || message !== c.message) list[i] = { ...c, field, message };
  }
  return list;
}
