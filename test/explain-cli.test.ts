// `gatehouse explain` (docs/debugging.md): the same explanation as /debug/explain, from a manifest
// directory or a cluster read once (read-only), as text or JSON; usage errors exit 2.

import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runExplain } from '../src/check/run-explain.ts';
import type { Explanation } from '../src/observability/explain.ts';
import { startKubeApi, type KubeObject } from './support/kube-api-emulator.ts';
import { backendService, ingress, ingressClass, manifest } from './support/harness.ts';

async function run(argv: readonly string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const code = await runExplain(argv, { stdout: (t) => (stdout += t), stderr: (t) => (stderr += t), env: {} });
  return { code, stdout, stderr };
}

const OBJECTS = [
  ingressClass('gatehouse'),
  ...backendService('web', 9001),
  ...backendService('api', 9002),
  ingress('shop', {
    annotations: { 'nginx.ingress.kubernetes.io/use-regex': 'true', 'nginx.ingress.kubernetes.io/rewrite-target': '/$1' },
    rules: [{ host: 'shop.test', paths: [{ path: '/', service: 'web' }, { path: '/api/(.*)', pathType: 'ImplementationSpecific', service: 'api' }] }],
  }),
];

describe('gatehouse explain', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'gatehouse-explain-'));
    await writeFile(path.join(dir, 'objects.yaml'), manifest(...OBJECTS));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('--manifests DIR URL prints the rule, the rewritten target and the endpoints', async () => {
    const { code, stdout, stderr } = await run(['--manifests', dir, 'http://shop.test/api/orders?id=3']);
    expect(stderr).toBe('');
    expect(code).toBe(0);
    expect(stdout).toContain('answer: forwarded to default/api:80 (Regex /api/(.*))');
    expect(stdout).toMatch(/✔ Regex \/api\/\(\.\*\) \(Ingress default\/shop\)/);
    expect(stdout).toMatch(/✘ Prefix \/ \(Ingress default\/shop\): matches too/);
    expect(stdout).toContain('→ upstream target /orders?id=3');
    expect(stdout).toContain('127.0.0.1:9002 unknown: health not known offline');
  });

  it('--output json gives the same explanation as data', async () => {
    const { code, stdout } = await run(['--manifests', dir, '--output', 'json', 'https://shop.test/']);
    expect(code).toBe(0);
    const e = JSON.parse(stdout) as Explanation;
    expect(e).toMatchObject({ scheme: 'https', host: 'shop.test', path: '/', route: { path: '/', match: 'Prefix' }, backend: { id: 'default/web:80' } });
  });

  it('exits 2 without a URL, with a bad flag or an unreadable directory', async () => {
    expect((await run(['--manifests', dir])).code).toBe(2);
    expect((await run(['--manifests', dir, '--output', 'yaml', 'http://a/'])).stderr).toMatch(/--output/);
    expect((await run(['--manifests', path.join(dir, 'nope'), 'http://a/'])).code).toBe(2);
    expect((await run(['--help'])).stdout).toMatch(/^Usage: gatehouse explain/);
  });

  it('reads a cluster once, read-only, and explains the same', async () => {
    const kube = await startKubeApi();
    try {
      for (const o of OBJECTS) kube.create(o as KubeObject);
      const { code, stdout } = await run(['--apiserver-host', kube.url, '--output=json', 'http://shop.test/api/x']);
      expect(code).toBe(0);
      expect(JSON.parse(stdout)).toMatchObject({ route: { match: 'Regex' }, backend: { id: 'default/api:80', endpoints: [{ port: 9002 }] } });
      expect(kube.requests.filter((r) => r.method !== 'GET' || r.watch)).toEqual([]);
    } finally {
      await kube.close();
    }
  });
});
