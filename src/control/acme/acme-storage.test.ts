// Local ACME storage: certificates as kubernetes.io/tls Secret manifests named
// <namespace>_<name>.yaml (mode 0600) that load back as Secrets, and one account key, generated
// once and then reused.

import { mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LocalAcmeStorage } from './acme-storage.ts';

describe('LocalAcmeStorage', () => {
  let dir: string;
  beforeEach(async () => {
    dir = path.join(await mkdtemp(path.join(tmpdir(), 'gatehouse-acme-unit-')), 'storage');
  });
  afterEach(async () => {
    await rm(path.dirname(dir), { recursive: true, force: true });
  });

  it('creates the directory, and loads nothing from an empty one', async () => {
    expect(await new LocalAcmeStorage(dir).load()).toEqual([]);
    expect((await stat(dir)).isDirectory()).toBe(true);
  });

  it('writes a Secret manifest per certificate that loads back as the same Secret', async () => {
    const storage = new LocalAcmeStorage(dir);
    await storage.load();
    const written = await storage.writeCertificate('shop', 'web-tls', { cert: 'CERT', key: 'KEY' }, ['a.example', 'b.example']);
    expect(written).toMatchObject({ kind: 'Secret', type: 'kubernetes.io/tls', metadata: { namespace: 'shop', name: 'web-tls', annotations: { 'gatehouse.io/acme-names': 'a.example,b.example' } } });
    expect(await readdir(dir)).toEqual(['shop_web-tls.yaml']);
    expect((await stat(path.join(dir, 'shop_web-tls.yaml'))).mode & 0o777).toBe(0o600);
    await writeFile(path.join(dir, 'broken.yaml'), ': not yaml [');
    const loaded = await new LocalAcmeStorage(dir).load();
    expect(loaded).toEqual([written]);
    expect(Buffer.from((loaded[0]!.data as Record<string, string>)['tls.key']!, 'base64').toString()).toBe('KEY');
  });

  it('generates the account key once and reuses it', async () => {
    const storage = new LocalAcmeStorage(dir);
    let made = 0;
    const generate = () => Promise.resolve(`KEY-${++made}`);
    expect(await storage.accountKey(generate)).toBe('KEY-1');
    expect(await new LocalAcmeStorage(dir).accountKey(generate)).toBe('KEY-1');
    expect(made).toBe(1);
    expect((await stat(path.join(dir, 'acme-account.key'))).mode & 0o777).toBe(0o600);
  });
});
