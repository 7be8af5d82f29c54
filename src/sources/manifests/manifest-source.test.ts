import { mkdir, mkdtemp, rename, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Kind } from '../../core/model.ts';
import { objectKey } from '../../core/snapshot.ts';
import type { KubeObject } from '../../core/snapshot.ts';
import type { Log, SourceSink } from '../source.ts';
import { ManifestSource } from './manifest-source.ts';
import type { ManifestSourceOptions } from './manifest-source.ts';

// ---- the test's consumer and helpers ----------------------------------------------------

type Event = { readonly op: 'upsert' | 'remove'; readonly key: string } | { readonly op: 'synced' };

/** Records what the source delivers, as the control plane would receive it. */
class RecordingSink implements SourceSink {
  readonly events: Event[] = [];
  readonly objects = new Map<string, KubeObject>();
  upsert(object: KubeObject): void {
    const key = objectKey(object.kind, object.metadata.namespace, object.metadata.name);
    this.objects.set(key, object);
    this.events.push({ op: 'upsert', key });
  }
  remove(kind: Kind, namespace: string, name: string): void {
    const key = objectKey(kind, namespace, name);
    this.objects.delete(key);
    this.events.push({ op: 'remove', key });
  }
  synced(): void {
    this.events.push({ op: 'synced' });
  }
  /** Keys held now, without the sentinels tests use to know a rescan happened. */
  keys(): string[] {
    return [...this.objects.keys()].filter((k) => !k.includes('sentinel')).sort();
  }
  /** Events from index `from` on, without sentinel traffic. */
  since(from: number): Event[] {
    return this.events.slice(from).filter((e) => e.op === 'synced' || !e.key.includes('sentinel'));
  }
  port(key: string): unknown {
    return (this.objects.get(key)?.spec as { ports?: Array<{ port?: unknown }> } | undefined)?.ports?.[0]?.port;
  }
}

interface Entry {
  readonly level: 'debug' | 'info' | 'warn' | 'error';
  readonly obj: Record<string, unknown>;
  readonly msg: string;
}

class RecordingLog implements Log {
  readonly entries: Entry[] = [];
  debug(obj: object, msg: string): void {
    this.entries.push({ level: 'debug', obj: obj as Record<string, unknown>, msg });
  }
  info(obj: object, msg: string): void {
    this.entries.push({ level: 'info', obj: obj as Record<string, unknown>, msg });
  }
  warn(obj: object, msg: string): void {
    this.entries.push({ level: 'warn', obj: obj as Record<string, unknown>, msg });
  }
  error(obj: object, msg: string): void {
    this.entries.push({ level: 'error', obj: obj as Record<string, unknown>, msg });
  }
  withCode(code: string): Entry[] {
    return this.entries.filter((e) => e.obj.code === code);
  }
}

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'gatehouse-manifests-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

async function put(dir: string, rel: string, text: string): Promise<void> {
  const file = path.join(dir, rel);
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, text);
}

async function tree(files: Record<string, string>): Promise<string> {
  const dir = await tempDir();
  for (const [rel, text] of Object.entries(files)) await put(dir, rel, text);
  return dir;
}

async function started(dir: string, options: Partial<ManifestSourceOptions> = {}): Promise<{ source: ManifestSource; sink: RecordingSink; log: RecordingLog }> {
  const log = new RecordingLog();
  const sink = new RecordingSink();
  const source = new ManifestSource({ dir, log, ...options });
  cleanups.push(() => source.close());
  await source.start(sink);
  return { source, sink, log };
}

/** Polls until `cond` holds; fails with `what` after the deadline. */
async function waitFor(cond: () => boolean, what: string, deadlineMs = 5000): Promise<void> {
  const end = Date.now() + deadlineMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

let sentinels = 0;
/**
 * Writes a fresh sentinel object and waits until it is delivered: every change made on
 * disk before this call has then been applied (rescans run in order over the whole tree).
 */
async function settle(dir: string, sink: RecordingSink): Promise<void> {
  const name = `sentinel-${++sentinels}`;
  await put(dir, 'zz-sentinel.yaml', svc(name));
  await waitFor(() => sink.objects.has(objectKey('Service', 'default', name)), `sentinel ${name}`);
}

function svc(name: string, port = 80, namespace = 'default'): string {
  return `apiVersion: v1\nkind: Service\nmetadata:\n  name: ${name}\n  namespace: ${namespace}\nspec:\n  ports:\n  - port: ${port}\n`;
}

function ingress(name: string, namespace = 'default'): string {
  return [
    'apiVersion: networking.k8s.io/v1',
    'kind: Ingress',
    'metadata:',
    `  name: ${name}`,
    `  namespace: ${namespace}`,
    'spec:',
    '  ingressClassName: gatehouse',
    '  rules:',
    '  - host: example.com',
    '    http:',
    '      paths:',
    '      - { path: /, pathType: Prefix, backend: { service: { name: web, port: { number: 80 } } } }',
    '',
  ].join('\n');
}

const SECRET_DATA = 'dG9wLXNlY3JldC1rZXktbWF0ZXJpYWw=';
function secret(name: string, namespace = 'default'): string {
  return `apiVersion: v1\nkind: Secret\ntype: kubernetes.io/tls\nmetadata:\n  name: ${name}\n  namespace: ${namespace}\ndata:\n  tls.crt: ${SECRET_DATA}\n  tls.key: ${SECRET_DATA}\n`;
}

const K = {
  svc: (name: string, ns = 'default') => objectKey('Service', ns, name),
  ing: (name: string, ns = 'default') => objectKey('Ingress', ns, name),
  secret: (name: string, ns = 'default') => objectKey('Secret', ns, name),
};

// ---- tests --------------------------------------------------------------------------------

describe('ManifestSource: initial load', () => {
  it('loads a nested tree of multi-document YAML, JSON and List files, then calls synced once', async () => {
    const dir = await tree({
      'apps/web.yaml': `${ingress('web', 'shop')}---\n${svc('web', 80, 'shop')}`,
      'apps/deep/er/api.yml': svc('api'),
      'class.json': JSON.stringify({ apiVersion: 'networking.k8s.io/v1', kind: 'IngressClass', metadata: { name: 'gatehouse' }, spec: { controller: 'gatehouse.io/ingress-controller' } }),
      'list.yaml': `apiVersion: v1\nkind: List\nitems:\n- ${secret('tls', 'shop').trimEnd().replaceAll('\n', '\n  ')}\n- ${svc('db').trimEnd().replaceAll('\n', '\n  ')}\n`,
      'slices/web.JSON': JSON.stringify({ apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', metadata: { name: 'web-abc', namespace: 'shop' }, endpoints: [] }),
      'README.md': svc('not-a-manifest'),
      '.hidden.yaml': svc('hidden'),
      '.git/config.yaml': svc('in-dot-dir'),
      'apps/.web.yaml.swp': svc('swap'),
    });
    const { sink } = await started(dir);
    expect(sink.keys()).toEqual(
      [
        'EndpointSlice/shop/web-abc',
        'Ingress/shop/web',
        'IngressClass/gatehouse',
        'Secret/shop/tls',
        'Service/default/api',
        'Service/default/db',
        'Service/shop/web',
      ].sort(),
    );
    expect(sink.events.filter((e) => e.op === 'synced')).toHaveLength(1);
    expect(sink.events.at(-1)).toEqual({ op: 'synced' });
  });

  it('calls synced for an empty directory', async () => {
    const { sink } = await started(await tempDir());
    expect(sink.events).toEqual([{ op: 'synced' }]);
  });

  it('ignores kinds it does not watch, logging them at debug', async () => {
    const dir = await tree({ 'mixed.yaml': `apiVersion: apps/v1\nkind: Deployment\nmetadata: { name: web }\n---\n${svc('web')}---\napiVersion: v1\nkind: ConfigMap\nmetadata: { name: cfg }\n` });
    const { sink, log } = await started(dir);
    expect(sink.keys()).toEqual([K.svc('web')]);
    const ignored = log.entries.filter((e) => e.level === 'debug' && typeof e.obj.kind === 'string');
    expect(ignored.map((e) => [e.obj.kind, e.obj.name, e.obj.document])).toEqual([
      ['Deployment', 'web', 0],
      ['ConfigMap', 'cfg', 2],
    ]);
    expect(log.entries.filter((e) => e.level === 'warn')).toEqual([]);
  });

  it('serves the good objects of a file that also holds a malformed one, and reports file and document', async () => {
    const dir = await tree({ 'app.yaml': `${svc('a')}---\napiVersion: v1\nkind: Service\nmetadata: { name: Bad_Name }\n---\n${svc('b')}` });
    const { sink, log } = await started(dir);
    expect(sink.keys()).toEqual([K.svc('a'), K.svc('b')]);
    expect(log.withCode('GH_OBJECT_INVALID')).toMatchObject([{ level: 'warn', obj: { file: path.join(dir, 'app.yaml'), document: 1, line: 10, reason: expect.stringContaining('metadata.name') } }]);
  });

  it('rejects start with a clear error when the directory does not exist or is a file', async () => {
    const dir = await tempDir();
    const missing = new ManifestSource({ dir: path.join(dir, 'nope') });
    await expect(missing.start(new RecordingSink())).rejects.toMatchObject({ code: 'GH_MANIFEST_UNREADABLE', message: expect.stringContaining('does not exist') });
    await put(dir, 'file.yaml', svc('a'));
    const file = new ManifestSource({ dir: path.join(dir, 'file.yaml') });
    await expect(file.start(new RecordingSink())).rejects.toMatchObject({ code: 'GH_MANIFEST_UNREADABLE', message: expect.stringContaining('not a directory') });
    await missing.close();
  });

  it('lets the first file in path order win a duplicate, logs the other, and promotes it when the winner goes', async () => {
    const dir = await tree({ '10-first.yaml': svc('shared', 80), 'b/20-second.yaml': svc('shared', 81), 'b/own.yaml': `${svc('own')}---\n${svc('own', 82)}` });
    const { sink, log } = await started(dir);
    expect(sink.port(K.svc('shared'))).toBe(80);
    expect(sink.port(K.svc('own'))).toBe(80); // within one file, the first document wins
    expect(log.withCode('GH_OBJECT_DUPLICATE').map((e) => [e.obj.file, e.obj.winner, e.obj.document])).toEqual([
      [path.join(dir, 'b/20-second.yaml'), path.join(dir, '10-first.yaml'), 0],
      [path.join(dir, 'b/own.yaml'), path.join(dir, 'b/own.yaml'), 1],
    ]);

    const mark = sink.events.length;
    await rm(path.join(dir, '10-first.yaml'));
    await waitFor(() => sink.port(K.svc('shared')) === 81, 'the second copy to take over');
    await settle(dir, sink);
    expect(sink.since(mark)).toEqual([{ op: 'upsert', key: K.svc('shared') }, { op: 'synced' }, { op: 'synced' }]);
    expect(log.withCode('GH_OBJECT_DUPLICATE')).toHaveLength(2); // not logged again on rescans
  });

  it('follows symlinked files and directories, reading a directory reached twice only once', async () => {
    const dir = await tree({ 'real/a.yaml': svc('a'), 'elsewhere.txt': '' });
    const outside = await tree({ 'b.yaml': svc('b') });
    await symlink('..', path.join(dir, 'real', 'loop'));
    await symlink(outside, path.join(dir, 'linked'));
    await symlink(path.join(dir, 'real', 'a.yaml'), path.join(dir, 'also-a.yaml'));
    await symlink(path.join(dir, 'missing.yaml'), path.join(dir, 'dangling.yaml'));
    const { sink, log } = await started(dir);
    expect(sink.keys()).toEqual([K.svc('a'), K.svc('b')]);
    // also-a.yaml and real/a.yaml are two paths to one file: the same object twice, reported once.
    expect(log.withCode('GH_OBJECT_DUPLICATE').map((e) => e.obj.file)).toEqual([path.join(dir, 'real/a.yaml')]);
  });
});

describe('ManifestSource: live changes', () => {
  it('keeps a file’s last good contents while it does not parse, then applies the fix', async () => {
    const dir = await tree({ 'app.yaml': `${svc('a', 80)}---\n${svc('b')}` });
    const { sink, log } = await started(dir);
    const mark = sink.events.length;
    await put(dir, 'app.yaml', `${svc('a', 81)}---\napiVersion: v1\nkind: Service\n  metadata: {{ broken\n`);
    await waitFor(() => log.withCode('GH_MANIFEST_UNREADABLE').length > 0, 'the parse error to be logged');
    expect(log.withCode('GH_MANIFEST_UNREADABLE')[0]).toMatchObject({ level: 'warn', obj: { file: path.join(dir, 'app.yaml'), reason: expect.stringMatching(/line \d+/) } });
    await settle(dir, sink);
    expect(sink.keys()).toEqual([K.svc('a'), K.svc('b')]);
    expect(sink.port(K.svc('a'))).toBe(80);
    expect(sink.since(mark).filter((e) => e.op !== 'synced')).toEqual([]);

    await put(dir, 'app.yaml', svc('a', 82));
    await waitFor(() => sink.port(K.svc('a')) === 82, 'the fixed file to apply');
    expect(sink.keys()).toEqual([K.svc('a')]);
  });

  it('applies an added file and a removed file', async () => {
    const dir = await tree({ 'a.yaml': svc('a') });
    const { sink } = await started(dir);
    await put(dir, 'b.yaml', `${svc('b')}---\n${ingress('b')}`);
    await waitFor(() => sink.keys().length === 3, 'the added file');
    expect(sink.keys()).toEqual([K.ing('b'), K.svc('a'), K.svc('b')]);
    await rm(path.join(dir, 'b.yaml'));
    await waitFor(() => sink.keys().length === 1, 'the removed file');
    expect(sink.keys()).toEqual([K.svc('a')]);
  });

  it('applies renames: a new name delivers nothing, out of the pattern removes, back in restores', async () => {
    const dir = await tree({ 'a.yaml': svc('a') });
    const { sink } = await started(dir);
    const mark = sink.events.length;
    await rename(path.join(dir, 'a.yaml'), path.join(dir, 'renamed.yml'));
    await settle(dir, sink);
    expect(sink.since(mark).filter((e) => e.op !== 'synced')).toEqual([]);
    await rename(path.join(dir, 'renamed.yml'), path.join(dir, 'renamed.yml.disabled'));
    await waitFor(() => !sink.objects.has(K.svc('a')), 'the object of the renamed-away file to go');
    await rename(path.join(dir, 'renamed.yml.disabled'), path.join(dir, 'back.json.yaml'));
    await waitFor(() => sink.objects.has(K.svc('a')), 'the object to come back');
  });

  it('picks up a new subdirectory with a file, and drops it when the directory goes or turns hidden', async () => {
    const dir = await tree({ 'a.yaml': svc('a') });
    const { sink } = await started(dir);
    await put(dir, 'team/x/b.yaml', svc('b'));
    await waitFor(() => sink.objects.has(K.svc('b')), 'the file in the new directory');
    // A later edit inside the new directory is seen too (the watcher covers it).
    await put(dir, 'team/x/b.yaml', svc('b', 90));
    await waitFor(() => sink.port(K.svc('b')) === 90, 'the edit in the new directory');
    await rename(path.join(dir, 'team'), path.join(dir, '.team-old'));
    await waitFor(() => !sink.objects.has(K.svc('b')), 'the hidden directory to drop out');
    await rename(path.join(dir, '.team-old'), path.join(dir, 'team'));
    await waitFor(() => sink.objects.has(K.svc('b')), 'the directory to come back');
    await rm(path.join(dir, 'team'), { recursive: true });
    await waitFor(() => !sink.objects.has(K.svc('b')), 'the removed directory to drop out');
    expect(sink.keys()).toEqual([K.svc('a')]);
  });

  it('batches several quick writes into one delivery', async () => {
    const dir = await tempDir();
    // Written together; the window is wide enough for their events to land in it on a busy machine.
    const { sink } = await started(dir, { debounceMs: 500 });
    const mark = sink.events.length;
    await Promise.all([put(dir, 'a.yaml', svc('a')), put(dir, 'b.yaml', svc('b')), put(dir, 'sub/c.yaml', svc('c'))]);
    await waitFor(() => sink.keys().length === 3, 'the three files');
    await settle(dir, sink);
    const events = sink.since(mark);
    expect(events.slice(0, 4)).toEqual([
      { op: 'upsert', key: K.svc('a') },
      { op: 'upsert', key: K.svc('b') },
      { op: 'upsert', key: K.svc('c') },
      { op: 'synced' },
    ]);
  });

  it('delivers only what changed: an identical rewrite sends nothing, an edit sends the one object', async () => {
    const dir = await tree({ 'app.yaml': `${svc('a')}---\n${svc('b')}` });
    const { sink } = await started(dir);
    const mark = sink.events.length;
    await put(dir, 'app.yaml', `# a comment now\n${svc('a')}---\n${svc('b')}`);
    await settle(dir, sink);
    expect(sink.since(mark).filter((e) => e.op !== 'synced')).toEqual([]);
    await put(dir, 'app.yaml', `${svc('a')}---\n${svc('b', 443)}`);
    await waitFor(() => sink.port(K.svc('b')) === 443, 'the edit');
    expect(sink.since(mark).filter((e) => e.op !== 'synced')).toEqual([{ op: 'upsert', key: K.svc('b') }]);
  });

  it('re-reads only changed files: a malformed object is reported once, not on every rescan', async () => {
    const dir = await tree({ 'bad.yaml': `${svc('a')}---\nkind: Service\n` });
    const { sink, log } = await started(dir);
    expect(log.withCode('GH_OBJECT_INVALID')).toHaveLength(1);
    await settle(dir, sink);
    await settle(dir, sink);
    expect(log.withCode('GH_OBJECT_INVALID')).toHaveLength(1);
    await put(dir, 'bad.yaml', `${svc('a', 81)}---\nkind: Service\n`);
    await waitFor(() => sink.port(K.svc('a')) === 81, 'the edit');
    expect(log.withCode('GH_OBJECT_INVALID')).toHaveLength(2);
  });

  it('applies a ConfigMap-style ..data symlink swap', async () => {
    // kubelet's AtomicWriter: files live in a timestamped dot-directory, `..data` points at
    // it, and the visible names are symlinks through `..data`. An update swaps `..data`.
    const dir = await tree({ '..2026_01_01/routes.yaml': svc('web', 80) });
    await symlink('..2026_01_01', path.join(dir, '..data'));
    await symlink('..data/routes.yaml', path.join(dir, 'routes.yaml'));
    const { sink } = await started(dir);
    expect(sink.keys()).toEqual([K.svc('web')]);
    const mark = sink.events.length;

    await put(dir, '..2026_01_02/routes.yaml', svc('web', 8080));
    await symlink('..2026_01_02', path.join(dir, '..data_tmp'));
    await rename(path.join(dir, '..data_tmp'), path.join(dir, '..data'));
    await rm(path.join(dir, '..2026_01_01'), { recursive: true });
    await waitFor(() => sink.port(K.svc('web')) === 8080, 'the swapped contents');
    await settle(dir, sink);
    expect(sink.since(mark).filter((e) => e.op !== 'synced')).toEqual([{ op: 'upsert', key: K.svc('web') }]);
  });

  it('keeps serving when the directory disappears, and follows it when it comes back', async () => {
    const dir = await tree({ 'a.yaml': svc('a') });
    const { sink, log } = await started(dir, { retryMs: 20 });
    const mark = sink.events.length;
    await rm(dir, { recursive: true });
    await waitFor(() => log.entries.some((e) => e.level === 'error' && e.obj.code === 'GH_MANIFEST_UNREADABLE' && e.obj.dir === dir), 'the missing directory to be logged');
    expect(sink.since(mark)).toEqual([]);
    expect(sink.keys()).toEqual([K.svc('a')]);

    await put(dir, 'b.yaml', svc('b'));
    await waitFor(() => sink.keys().join() === K.svc('b'), 'the new directory to be read');
    // And it is watched again.
    await put(dir, 'c.yaml', svc('c'));
    await waitFor(() => sink.objects.has(K.svc('c')), 'a change in the new directory');
  });

  it('never logs Secret data', async () => {
    const dir = await tree({ 'tls.yaml': secret('tls'), 'dup.yaml': secret('tls'), 'bad.yaml': secret('Bad_Name') });
    const { sink, log } = await started(dir);
    await put(dir, 'tls.yaml', `${secret('tls')}  broken: [\n`);
    await put(dir, 'tls.json', `{"apiVersion":"v1","kind":"Secret","metadata":{"name":"j"},"data":{"tls.key":${SECRET_DATA}}}`);
    await waitFor(() => log.withCode('GH_MANIFEST_UNREADABLE').length === 2, 'both parse errors');
    await settle(dir, sink);
    expect(sink.objects.has(K.secret('tls'))).toBe(true);
    expect(log.withCode('GH_OBJECT_INVALID')).toHaveLength(1);
    expect(log.withCode('GH_OBJECT_DUPLICATE').length).toBeGreaterThan(0);
    expect(JSON.stringify(log.entries)).not.toContain(SECRET_DATA.slice(0, 12));
  });
});

describe('ManifestSource: close', () => {
  it('is safe to call twice and stops delivery, even with a change pending', async () => {
    const dir = await tree({ 'a.yaml': svc('a') });
    const { source, sink } = await started(dir, { debounceMs: 20 });
    await put(dir, 'b.yaml', svc('b'));
    await Promise.all([source.close(), source.close()]);
    await source.close();
    const mark = sink.events.length;
    await put(dir, 'c.yaml', svc('c'));
    await rm(path.join(dir, 'a.yaml'));
    await new Promise((r) => setTimeout(r, 150));
    expect(sink.events.slice(mark)).toEqual([]);
    await expect(source.start(sink)).rejects.toThrow(/closed/);
  });
});
