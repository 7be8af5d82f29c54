// docs/metrics.md, the metrics registry (observability/metrics.ts) and the Grafana dashboard
// (deploy/grafana/gatehouse.json) agree: the docs' table lists exactly the families /metrics
// writes, with their types, and every PromQL query of the dashboard names only metrics that exist.

import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { createMetricsBuffer, MetricsReader, RequestMetrics } from '../src/dataplane/observe/request-metrics.ts';
import { SeriesRegistry } from '../src/dataplane/observe/series.ts';
import { COMPILE_BUCKETS, Histogram, renderMetrics } from '../src/observability/metrics.ts';
import { parsePrometheusText } from './support/prometheus-text.ts';

/** Every family /metrics can write, with a request observed and every optional part present. */
function registry(): ReadonlyMap<string, string> {
  const buffer = createMetricsBuffer(1);
  const series = new SeriesRegistry();
  new RequestMetrics(buffer, 0).observe({ series: 0, method: 'GET', status: 200, seconds: 0.1, upstreamSeconds: 0.1, bytesIn: 1, bytesOut: 1, retries: 1, refusal: 'access' });
  const text = renderMetrics(new MetricsReader(buffer), series.labels(), {
    generation: 1,
    compile: new Histogram(COMPILE_BUCKETS).read(),
    applies: 1,
    lastApply: 1,
    conditions: [{ ref: { kind: 'Ingress', namespace: 'n', name: 'i' }, code: 'GH_ANNOTATION_INVALID', field: '', message: '' }],
    leader: true,
    certificates: { 'n/s': Date.now() },
    endpoints: { 'n/s:80': 1 },
    endpointHealth: [{ backend: 'n/s:80', endpoint: '10.0.0.1:80', healthy: true, ejections: 0 }],
    workers: 1,
  });
  return parsePrometheusText(text).types;
}

/** The docs' table: metric name → type (its first word). */
function documented(): ReadonlyMap<string, string> {
  const doc = readFileSync(new URL('../docs/metrics.md', import.meta.url), 'utf8');
  const out = new Map<string, string>();
  for (const m of doc.matchAll(/^\| `(gatehouse_[a-z0-9_]+)` \| (counter|gauge|histogram)\b/gm)) out.set(m[1]!, m[2]!);
  return out;
}

interface Panel {
  title?: string;
  targets?: { expr: string }[];
  panels?: Panel[];
}

function queries(): { where: string; expr: string }[] {
  const dash = JSON.parse(readFileSync(new URL('../deploy/grafana/gatehouse.json', import.meta.url), 'utf8')) as { panels: Panel[]; templating: { list: { name: string; query?: string }[] } };
  const out: { where: string; expr: string }[] = [];
  const walk = (ps: Panel[]) => {
    for (const p of ps) {
      for (const t of p.targets ?? []) out.push({ where: `panel "${p.title}"`, expr: t.expr });
      walk(p.panels ?? []);
    }
  };
  walk(dash.panels);
  for (const v of dash.templating.list) if (v.query?.includes('gatehouse_')) out.push({ where: `variable ${v.name}`, expr: v.query });
  return out;
}

describe('metrics: docs, registry and dashboard', () => {
  it('docs/metrics.md lists exactly the families /metrics writes, with their types', () => {
    expect(Object.fromEntries([...documented()].sort())).toEqual(Object.fromEntries([...registry()].sort()));
  });

  it('every query of the Grafana dashboard names only metrics that exist', () => {
    const types = registry();
    const docs = documented();
    const qs = queries();
    expect(qs.length).toBeGreaterThan(15);
    for (const { where, expr } of qs) {
      // Label names and functions never start with gatehouse_: every such word is a metric.
      const names = [...expr.matchAll(/\bgatehouse_[a-z0-9_]+/g)].map((m) => m[0]);
      expect(names.length, `${where}: ${expr}`).toBeGreaterThan(0);
      for (const name of names) {
        const family = types.has(name) ? name : name.replace(/_(bucket|sum|count)$/, '');
        expect(types.has(family), `${where} names ${name}, which /metrics does not write`).toBe(true);
        expect(docs.has(family), `${where} names ${name}, which docs/metrics.md does not list`).toBe(true);
        if (family !== name) expect(types.get(family), `${where}: ${name} of a ${types.get(family)}`).toBe('histogram');
      }
    }
  });
});
