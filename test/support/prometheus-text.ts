// Reads the Prometheus text format (version 0.0.4) as /metrics writes it: one sample per line,
// `name{label="value",…} number`, with `# HELP` / `# TYPE` lines. For tests.

export interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

export interface Scrape {
  readonly samples: readonly Sample[];
  /** name → type, from the `# TYPE` lines. */
  readonly types: ReadonlyMap<string, string>;
  /** The value of the sample with exactly these labels, or undefined. */
  value(name: string, labels?: Readonly<Record<string, string>>): number | undefined;
  /** The sum over the samples of `name` whose labels include `labels`. */
  sum(name: string, labels?: Readonly<Record<string, string>>): number;
}

const LINE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

export function parsePrometheusText(text: string): Scrape {
  const samples: Sample[] = [];
  const types = new Map<string, string>();
  for (const line of text.split('\n')) {
    if (line === '') continue;
    if (line.startsWith('# TYPE ')) {
      const [, , name = '', type = ''] = line.split(' ');
      types.set(name, type);
      continue;
    }
    if (line.startsWith('#')) continue;
    const m = LINE.exec(line);
    if (m === null) throw new Error(`not a sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(LABEL)) labels[l[1]!] = l[2]!.replace(/\\n/g, '\n').replace(/\\"/g, '"').replace(/\\\\/g, '\\');
    samples.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  const has = (s: Sample, labels: Readonly<Record<string, string>>) => Object.entries(labels).every(([k, v]) => s.labels[k] === v);
  return {
    samples,
    types,
    value: (name, labels = {}) => samples.find((s) => s.name === name && Object.keys(s.labels).length === Object.keys(labels).length && has(s, labels))?.value,
    sum: (name, labels = {}) => samples.filter((s) => s.name === name && has(s, labels)).reduce((n, s) => n + s.value, 0),
  };
}
