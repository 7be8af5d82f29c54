// Regular-expression paths: ImplementationSpecific paths of a host in regex mode (use-regex, or a
// rewrite-target, on any Ingress of the host; ingress-nginx docs/user-guide/ingress-path-matching.md).
// ingress-nginx writes each as `location ~* "^<path>"`: case-insensitive, anchored at the start of
// the path, and nginx matches it against $uri, the normalised path. Here the regex is matched
// against our normalised path (core/normalise-uri-path.ts), the same string every route and
// policy sees.
//
// A path regex is the Ingress author's, the path the client's: a backtracking engine (V8's
// RegExp, PCRE) takes exponential time on `(a+)+$` against `/aaa…a!`, and one request would stall
// a worker and every connection on it. So path regexes run on RE2 (re2js, a pure JavaScript port
// of RE2, the engine of Go's regexp): linear in the length of the path for a given program, no
// backtracking, no lookarounds or backreferences (patterns that use them are refused). The
// program is bounded too (MAX_PROGRAM_SIZE), since RE2's time is linear in path length × program
// size: `[a-z]{1,1000}` compiles to thousands of instructions.
//
// Pure (no node: imports): compile validates patterns with it, the workers match with it.

import { RE2JS } from 're2js';

/**
 * What a regex path may hold: ingress-nginx's IsValidRegex characters (letters, digits,
 * `- . _ ~ / :` and `^ $ [ ] ( ) { } * + ? | & = \`) and the other RFC 3986 path characters that
 * are literals in a regex (`@ ! ' , ;`). Never `%`: the normalised path decodes unreserved escapes
 * and upper-cases the rest, so a literal escape in a pattern would match in one spelling only;
 * write `.` for a character that arrives encoded. Nothing that needs quoting in a header or a log.
 */
const REGEX_PATH = /^\/[-._~A-Za-z0-9/:^$[\](){}*+?|&=\\@!',;]*$/;

/** The longest pattern taken, in characters. */
export const MAX_PATTERN_LENGTH = 1024;
/**
 * The largest RE2 program taken (re2js programSize, about one instruction per character or class,
 * a counted repeat `x{1,n}` costs n). Real path regexes stay under 150: `/[a-z0-9-]{1,63}/(.*)` is
 * 133, `/something(/|$)(.*)` 21.
 */
export const MAX_PROGRAM_SIZE = 250;

/** Whether `path` is made only of the characters a regex path may hold (its syntax aside). */
export function isRegexPathText(path: string): boolean {
  return REGEX_PATH.test(path);
}

export interface PathRegex {
  /** The pattern as written in the Ingress. */
  readonly pattern: string;
  /** The number of capture groups ($1 … $n). */
  readonly groupCount: number;
  /** Whether the regex matches at the start of `path` (a normalised request path). */
  test(path: string): boolean;
  /**
   * The capture groups of the match at the start of `path`, index 0 for `$1`; '' for a group that
   * took no part (nginx expands it to nothing). Null when the regex does not match.
   */
  groups(path: string): string[] | null;
}

/** The compiled regex of a path, or the reason it is refused. */
export function compilePathRegex(pattern: string): PathRegex | string {
  if (pattern.length > MAX_PATTERN_LENGTH) return `path regex ${JSON.stringify(pattern.slice(0, 40) + '…')} is longer than ${MAX_PATTERN_LENGTH} characters`;
  if (!isRegexPathText(pattern)) {
    return `path regex ${JSON.stringify(pattern)} must start with "/" and hold only letters, digits, "-._~/:@!',;" and the regex characters "^$[](){}*+?|&=\\" (no "%", spaces or quotes)`;
  }
  let groupCount: number;
  let re: RE2JS;
  try {
    // Alone first, so that `/a)|(.*` is refused rather than read as `^(?:/a)|(.*)`.
    groupCount = RE2JS.compile(pattern).groupCount();
    // Case-insensitive (`~*`), anchored at the start (`^`), as ingress-nginx writes the location;
    // the group keeps `^` on every alternative (nginx's `^/a|/b` anchors only the first).
    re = RE2JS.compile(`^(?:${pattern})`, RE2JS.CASE_INSENSITIVE);
  } catch (err) {
    const reason = err instanceof Error ? err.message.replace(/^error parsing regexp: /, '') : 'does not compile';
    return `path regex ${JSON.stringify(pattern)} is not an RE2 regular expression: ${reason} (RE2 has no lookarounds or backreferences)`;
  }
  if (re.programSize() > MAX_PROGRAM_SIZE) {
    return `path regex ${JSON.stringify(pattern)} compiles to ${re.programSize()} instructions, more than ${MAX_PROGRAM_SIZE} (counted repeats like {1,100} cost one per count)`;
  }
  return {
    pattern,
    groupCount,
    test: (path) => re.test(path),
    groups: (path) => {
      const m = re.matcher(path);
      if (!m.lookingAt()) return null;
      const out: string[] = [];
      for (let i = 1; i <= groupCount; i++) out.push(m.group(i) ?? '');
      return out;
    },
  };
}
