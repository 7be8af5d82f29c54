// nginx variables in annotation values, parsed once into typed parts (RequestVariablePart):
// literal text, or a variable whose value the data plane takes from the request
// (dataplane/balancer/hash-key.ts variableValue). A value is never interpolated as text.
//
// A variable is written `$name` (the longest run of letters, digits and `_`, as nginx reads it) or
// `${name}`. Which names a value may use is the caller's: upstream-hash-by (load-balance.ts) takes
// $request_uri, $remote_addr, $host and the $http_/$cookie_/$arg_ families; the external-auth
// URLs (external-auth.ts) take these and $scheme, $http_host, $best_http_host, $escaped_request_uri.

import type { RequestVariablePart } from '../model.ts';

/** Every variable Gatehouse knows, by name. */
const FIXED: Readonly<Record<string, RequestVariablePart>> = {
  request_uri: { kind: 'request_uri' },
  remote_addr: { kind: 'remote_addr' },
  host: { kind: 'host' },
  scheme: { kind: 'scheme' },
  // ingress-nginx sets $best_http_host to $http_host in every location.
  http_host: { kind: 'http_host' },
  best_http_host: { kind: 'http_host' },
  escaped_request_uri: { kind: 'escaped_request_uri' },
};
const PREFIXED = [['http_', 'header'], ['cookie_', 'cookie'], ['arg_', 'arg']] as const;

/** A set of variables a value may use: the fixed names, and whether the $http_/$cookie_/$arg_ families are in. */
export interface VariableSet {
  readonly fixed: readonly string[];
  readonly families: boolean;
  /** The list for messages (`$host, $request_uri, …`). */
  readonly expected: string;
  /** What the value is for, in messages: `$x is not a variable Gatehouse <use>`. */
  readonly use: string;
}

export function variableSet(fixed: readonly string[], families: boolean, use: string): VariableSet {
  const names = fixed.map((n) => `$${n}`);
  if (families) names.push('$http_<name>', '$cookie_<name>', '$arg_<name>');
  return { fixed, families, expected: names.join(', '), use };
}

/** One variable name as a part, or null when `set` does not hold it. */
function variable(name: string, set: VariableSet): RequestVariablePart | null {
  if (set.fixed.includes(name)) return FIXED[name]!;
  if (!set.families) return null;
  for (const [prefix, kind] of PREFIXED) {
    if (!name.startsWith(prefix) || name.length === prefix.length) continue;
    const rest = name.slice(prefix.length).toLowerCase();
    // nginx's $http_<name>: the header name lower case, `-` written as `_`.
    return { kind, name: kind === 'header' ? rest.replaceAll('_', '-') : rest };
  }
  return null;
}

/**
 * `value` as parts: runs of text that `text` matches (anchored at the start, sticky-free: it is
 * matched against the rest of the value), and variables of `set`. Adjacent text is merged. A
 * string is why it is refused.
 */
export function parseVariables(value: string, set: VariableSet, text: RegExp, textExpected: string): RequestVariablePart[] | string {
  const parts: RequestVariablePart[] = [];
  let i = 0;
  while (i < value.length) {
    if (value[i] === '$') {
      const braced = value[i + 1] === '{';
      const m = (braced ? /^\$\{([A-Za-z0-9_]+)\}/ : /^\$([A-Za-z0-9_]+)/).exec(value.slice(i));
      if (m === null) return `"$" at offset ${i} starts no variable name ($name or \${name})`;
      const part = variable(m[1]!, set);
      if (part === null) return `$${m[1]!} is not a variable Gatehouse ${set.use} (${set.expected})`;
      parts.push(part);
      i += m[0].length;
      continue;
    }
    const m = text.exec(value.slice(i));
    if (m === null || m[0] === '') return `${JSON.stringify(value[i])} at offset ${i} is neither ${textExpected} nor a "$" variable`;
    const last = parts.at(-1);
    if (last?.kind === 'text') parts[parts.length - 1] = { kind: 'text', text: last.text + m[0] };
    else parts.push({ kind: 'text', text: m[0] });
    i += m[0].length;
  }
  return parts;
}
