// Golden tests for compile: each test/fixtures/compile/<case>/ holds in.yaml (the objects,
// multi-document), an optional options.json (CompileOptions overrides) and want.json (the
// table, endpoints and conditions, and the ACME requests when there are any). UPDATE_GOLDEN=1
// rewrites want.json; review the diff.

import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { describe, expect, it } from 'vitest';
import { compile, CompileMemo } from '../src/core/compile.ts';
import { resolveEndpoints } from '../src/core/endpoints.ts';
import type { CompileOptions } from '../src/core/model.ts';
import { Snapshot, toKubeObject } from '../src/core/snapshot.ts';

const DIR = join(import.meta.dirname, 'fixtures', 'compile');
const BASE: CompileOptions = { controllerClass: 'gatehouse.io/ingress-controller', ingressClass: 'gatehouse', watchIngressWithoutClass: false, defaultBackendService: null };

function run(dir: string) {
  const snapshot = new Snapshot();
  for (const doc of parseAllDocuments(readFileSync(join(dir, 'in.yaml'), 'utf8'))) {
    const checked = toKubeObject(doc.toJS());
    if (checked.ok) snapshot.upsert(checked.object);
  }
  const optionsFile = join(dir, 'options.json');
  const options = { ...BASE, ...(existsSync(optionsFile) ? JSON.parse(readFileSync(optionsFile, 'utf8')) : {}) };
  const { table, conditions, acme } = compile(snapshot, options, 1);
  const endpoints = resolveEndpoints(snapshot, table.backends);
  const { fingerprint: _t, generation: _g, ...routes } = table;
  // ACME requests (gatehouse.io/acme) only where there are some, so the other cases stay as they were.
  return { routes, endpoints: endpoints.backends, conditions, ...(acme.length > 0 ? { acme } : {}) };
}

const cases = readdirSync(DIR, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name).sort();

describe('compile golden cases', () => {
  it('has at least 30 cases', () => {
    expect(cases.length).toBeGreaterThanOrEqual(30);
  });

  it.each(cases)('%s', (name) => {
    const dir = join(DIR, name);
    const got = run(dir);
    const wantFile = join(dir, 'want.json');
    if (process.env.UPDATE_GOLDEN === '1' || !existsSync(wantFile)) {
      writeFileSync(wantFile, `${JSON.stringify(got, null, 2)}\n`);
    }
    expect(got).toEqual(JSON.parse(readFileSync(wantFile, 'utf8')));
  });

  it('is deterministic: input order and repeated runs give the same fingerprint', () => {
    for (const name of cases) {
      const dir = join(DIR, name);
      const docs = parseAllDocuments(readFileSync(join(dir, 'in.yaml'), 'utf8')).map((d) => toKubeObject(d.toJS()));
      const fp = (order: typeof docs) => {
        const s = new Snapshot();
        for (const c of order) if (c.ok) s.upsert(c.object);
        return compile(s, BASE, 1).table.fingerprint;
      };
      expect(fp([...docs].reverse())).toBe(fp(docs));
    }
  });

  it('gives the same result with a memo kept across compiles, also once ConfigMaps and Ingresses changed', () => {
    for (const name of cases) {
      const dir = join(DIR, name);
      const snapshot = new Snapshot();
      for (const doc of parseAllDocuments(readFileSync(join(dir, 'in.yaml'), 'utf8'))) {
        const checked = toKubeObject(doc.toJS());
        if (checked.ok) snapshot.upsert(checked.object);
      }
      const memo = new CompileMemo();
      const same = () => expect(compile(snapshot, BASE, 1, memo)).toEqual(compile(snapshot, BASE, 1));
      same();
      same();
      // A ConfigMap gone (custom-headers, the --configmap one) and an Ingress renamed: read again.
      for (const cm of snapshot.list('ConfigMap')) snapshot.remove('ConfigMap', cm.metadata.namespace, cm.metadata.name);
      same();
      const [first] = snapshot.list('Ingress');
      if (first !== undefined) {
        snapshot.remove('Ingress', first.metadata.namespace, first.metadata.name);
        snapshot.upsert({ ...first, metadata: { ...first.metadata, name: `${first.metadata.name}-renamed` } });
      }
      same();
    }
  });
});
