// Label and field selectors with the grammar of k8s.io/apimachinery/pkg/labels and pkg/fields:
// https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/#label-selectors
// https://kubernetes.io/docs/concepts/overview/working-with-objects/field-selectors/

export type Labels = Readonly<Record<string, string>>;

export type LabelRequirement =
  | { readonly op: 'exists' | '!'; readonly key: string }
  | { readonly op: '=' | '!='; readonly key: string; readonly value: string }
  | { readonly op: 'in' | 'notin'; readonly key: string; readonly values: readonly string[] }
  | { readonly op: 'gt' | 'lt'; readonly key: string; readonly value: number };

export class SelectorError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SelectorError';
  }
}

// A qualified name with an optional DNS-subdomain prefix (`app.kubernetes.io/name`).
const KEY = String.raw`(?:[a-z0-9](?:[-a-z0-9.]*[a-z0-9])?/)?[A-Za-z0-9](?:[-A-Za-z0-9_.]*[A-Za-z0-9])?`;
const VALUE = String.raw`(?:[A-Za-z0-9](?:[-A-Za-z0-9_.]*[A-Za-z0-9])?)?`;
const RE_NOT_EXISTS = new RegExp(`^!\\s*(${KEY})$`);
const RE_EXISTS = new RegExp(`^(${KEY})$`);
const RE_SET = new RegExp(`^(${KEY})\\s+(in|notin)\\s*\\((.*)\\)$`);
const RE_OP = new RegExp(`^(${KEY})\\s*(==|!=|=|>|<)\\s*(${VALUE})$`);
const RE_VALUE = new RegExp(`^${VALUE}$`);

/** Splits on commas outside parentheses. */
function splitTopLevel(s: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (c === '(') depth++;
    else if (c === ')') depth--;
    else if (c === ',' && depth === 0) {
      parts.push(s.slice(start, i));
      start = i + 1;
    }
  }
  parts.push(s.slice(start));
  return parts;
}

export function parseLabelSelector(selector: string): LabelRequirement[] {
  if (selector.trim() === '') return [];
  return splitTopLevel(selector).map((raw) => {
    const part = raw.trim();
    let m: RegExpExecArray | null;
    if ((m = RE_NOT_EXISTS.exec(part))) return { op: '!', key: m[1]! };
    if ((m = RE_SET.exec(part))) {
      const values = m[3]!.split(',').map((v) => v.trim());
      for (const v of values) if (!RE_VALUE.test(v)) throw new SelectorError(`unable to parse requirement: invalid label value: "${v}"`);
      return { op: m[2] as 'in' | 'notin', key: m[1]!, values };
    }
    if ((m = RE_OP.exec(part))) {
      const key = m[1]!;
      const value = m[3]!;
      if (m[2] === '>' || m[2] === '<') {
        if (!/^-?\d+$/.test(value)) throw new SelectorError(`unable to parse requirement: for 'Gt', 'Lt' operators, the value must be an integer`);
        return { op: m[2] === '>' ? 'gt' : 'lt', key, value: Number(value) };
      }
      return { op: m[2] === '!=' ? '!=' : '=', key, value };
    }
    if ((m = RE_EXISTS.exec(part))) return { op: 'exists', key: m[1]! };
    throw new SelectorError(`unable to parse requirement: found '${part}', expected: key, !key, key=value, key!=value, key in (...), key notin (...)`);
  });
}

export function matchesLabels(requirements: readonly LabelRequirement[], labels: Labels | undefined): boolean {
  const l = labels ?? {};
  return requirements.every((r) => {
    const has = Object.hasOwn(l, r.key);
    const v = l[r.key];
    switch (r.op) {
      case 'exists': return has;
      case '!': return !has;
      case '=': return has && v === r.value;
      case '!=': return !has || v !== r.value;
      case 'in': return has && r.values.includes(v!);
      case 'notin': return !has || !r.values.includes(v!);
      case 'gt': return has && /^-?\d+$/.test(v!) && Number(v) > r.value;
      case 'lt': return has && /^-?\d+$/.test(v!) && Number(v) < r.value;
    }
  });
}

export interface FieldRequirement {
  readonly field: string;
  readonly op: '=' | '!=';
  readonly value: string;
}

/** `metadata.name=a,type!=b`; `==` is `=`. Backslash escapes `,`, `=` and `\` as in pkg/fields. */
export function parseFieldSelector(selector: string): FieldRequirement[] {
  if (selector.trim() === '') return [];
  const parts: string[] = [];
  let cur = '';
  for (let i = 0; i < selector.length; i++) {
    const c = selector[i]!;
    if (c === '\\' && i + 1 < selector.length) { cur += c + selector[++i]; continue; }
    if (c === ',') { parts.push(cur); cur = ''; continue; }
    cur += c;
  }
  parts.push(cur);
  return parts.map((part) => {
    const m = /^([^=!]+?)\s*(==|!=|=)\s*(.*)$/.exec(part.trim());
    if (!m) throw new SelectorError(`invalid selector: '${part}'; can't understand '${part}'`);
    const value = m[3]!.replace(/\\(.)/g, '$1');
    return { field: m[1]!.trim(), op: m[2] === '!=' ? '!=' : '=', value };
  });
}

export function matchesFields(requirements: readonly FieldRequirement[], value: (field: string) => string): boolean {
  return requirements.every((r) => (value(r.field) === r.value) === (r.op === '='));
}
