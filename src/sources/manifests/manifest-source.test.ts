import { watch as fsWatch } from 'node:fs';
import { mkdir, mkdtemp, rename, rm, symlink, utimes, writeFile } from 'node:fs/promises';
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
  /** The `test/round` annotation of the object held under `key` (see `svcRound`). */
  round(key: string): unknown {
    return this.objects.get(key)?.metadata.annotations?.['test/round'];
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
  /** The debug line each scan after the first logs, with its counts. */
  scans(): Array<{ periodic: boolean; files: number; read: number; parsed: number; upserted: number; removed: number }> {
    return this.entries.filter((e) => e.msg === 'manifests scanned').map((e) => e.obj as never);
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

async function started(
  dir: string,
  options: Omit<Partial<ManifestSourceOptions>, 'log'> = {},
  log = new RecordingLog(),
): Promise<{ source: ManifestSource; sink: RecordingSink; log: RecordingLog }> {
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

/** A Service whose `test/round` annotation says which round of a test wrote it; same size for rounds 0-99. */
function svcRound(name: string, round: number): string {
  return `apiVersion: v1\nkind: Service\nmetadata:\n  name: ${name}\n  namespace: default\n  annotations:\n    test/round: "${String(round).padStart(2, '0')}"\nspec:\n  ports:\n  - port: 80\n`;
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
    const dir = await tree({ 'mixed.yaml': `apiVersion: apps/v1\nkind: Deployment\nmetadata: { name: web }\n---\n${svc('web')}---\napiVersion: v1\nkind: Pod\nmetadata: { name: cfg }\n` });
    const { sink, log } = await started(dir);
    expect(sink.keys()).toEqual([K.svc('web')]);
    const ignored = log.entries.filter((e) => e.level === 'debug' && typeof e.obj.kind === 'string');
    expect(ignored.map((e) => [e.obj.kind, e.obj.name, e.obj.document])).toEqual([
      ['Deployment', 'web', 0],
      ['Pod', 'cfg', 2],
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

  it('edits of a duplicate: the losing copy delivers nothing, the winning one delivers; other objects of the files as they were', async () => {
    const dir = await tree({ '10-first.yaml': `${svc('shared', 80)}---\n${svc('a')}`, '20-second.yaml': `${svc('b')}---\n${svc('shared', 81)}` });
    const { sink } = await started(dir);
    const mark = sink.events.length;
    await put(dir, '20-second.yaml', `${svc('b')}---\n${svc('shared', 82)}`);
    await settle(dir, sink);
    expect(sink.since(mark).filter((e) => e.op !== 'synced')).toEqual([]);
    await put(dir, '10-first.yaml', `${svc('shared', 90)}---\n${svc('a')}`);
    await waitFor(() => sink.port(K.svc('shared')) === 90, 'the winner\'s edit');
    await put(dir, '20-second.yaml', `${svc('b', 443)}---\n${svc('shared', 83)}`);
    await waitFor(() => sink.port(K.svc('b')) === 443, 'the edit of the loser\'s other object');
    expect(sink.port(K.svc('shared'))).toBe(90);
    expect(sink.since(mark).filter((e) => e.op !== 'synced')).toEqual([{ op: 'upsert', key: K.svc('shared') }, { op: 'upsert', key: K.svc('b') }]);
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

// Each kind of change, made ROUNDS times over at the same path, must reach the sink through a
// watch alone: the periodic re-scan is off and the retry is an hour away, so a change no watch
// reported would time out here. Each round writes a new `test/round` value and waits for it,
// then edits the same name in place (round + 50) and waits for that: Node's recursive watch
// on Linux reports a rename over `app.yaml` but keeps watching the replaced inode, so it is
// the write after a replacement that goes unseen.
describe('ManifestSource: every change is seen by a watch, without the re-scan', () => {
  const ROUNDS = 20;
  const WATCH_ONLY = { rescanIntervalMs: 0, retryMs: 3_600_000, debounceMs: 2 };
  const APP = K.svc('app');
  const r2 = (r: number) => String(r).padStart(2, '0');

  async function roundDelivered(sink: RecordingSink, r: number, key = APP): Promise<void> {
    await waitFor(() => sink.round(key) === r2(r), `round ${r} of ${key}`, 15_000);
  }

  async function gone(sink: RecordingSink, r: number, key = APP): Promise<void> {
    await waitFor(() => !sink.objects.has(key), `${key} to go in round ${r}`, 15_000);
  }

  /** Starts a source on `dir` that only its watches can wake, and plays `round` ROUNDS times. */
  async function rounds(dir: string, round: (r: number, sink: RecordingSink) => Promise<void>, log?: RecordingLog): Promise<void> {
    const { sink } = await started(dir, WATCH_ONLY, log);
    for (let r = 1; r <= ROUNDS; r++) await round(r, sink);
  }

  /** Writes `file` in place (same inode) with round r + 50 of `name`, and waits for it. */
  async function thenInPlace(sink: RecordingSink, file: string, r: number, name = 'app'): Promise<void> {
    await writeFile(file, svcRound(name, r + 50));
    await roundDelivered(sink, r + 50, K.svc(name));
  }

  it(`sees a file edited in place, ${ROUNDS} times (same size each time)`, async () => {
    const dir = await tree({ 'app.yaml': svcRound('app', 0) });
    await rounds(dir, async (r, sink) => {
      await writeFile(path.join(dir, 'app.yaml'), svcRound('app', r));
      await roundDelivered(sink, r);
    });
  });

  it(`sees a file replaced by rename over it, ${ROUNDS} times (sed -i, mv tmp app.yaml)`, async () => {
    const dir = await tree({ 'app.yaml': svcRound('app', 0) });
    await rounds(dir, async (r, sink) => {
      await writeFile(path.join(dir, '.app.yaml.tmp'), svcRound('app', r));
      await rename(path.join(dir, '.app.yaml.tmp'), path.join(dir, 'app.yaml'));
      await roundDelivered(sink, r);
      await thenInPlace(sink, path.join(dir, 'app.yaml'), r);
    });
  });

  it(`sees a file moved aside and written anew, ${ROUNDS} times (an editor keeping a backup)`, async () => {
    const dir = await tree({ 'app.yaml': svcRound('app', 0) });
    await rounds(dir, async (r, sink) => {
      await rename(path.join(dir, 'app.yaml'), path.join(dir, 'app.yaml~'));
      await writeFile(path.join(dir, 'app.yaml'), svcRound('app', r));
      await rm(path.join(dir, 'app.yaml~'));
      await roundDelivered(sink, r);
      await thenInPlace(sink, path.join(dir, 'app.yaml'), r);
    });
  });

  it(`sees a file created and deleted, ${ROUNDS} times`, async () => {
    const dir = await tempDir();
    await rounds(dir, async (r, sink) => {
      await writeFile(path.join(dir, 'app.yaml'), svcRound('app', r));
      await roundDelivered(sink, r);
      await thenInPlace(sink, path.join(dir, 'app.yaml'), r);
      await rm(path.join(dir, 'app.yaml'));
      await gone(sink, r);
    });
  });

  it(`sees a file moved into the tree and out again, ${ROUNDS} times`, async () => {
    const dir = await tempDir();
    const outside = await tempDir();
    await rounds(dir, async (r, sink) => {
      await writeFile(path.join(outside, 'app.yaml'), svcRound('app', r));
      await rename(path.join(outside, 'app.yaml'), path.join(dir, 'app.yaml'));
      await roundDelivered(sink, r);
      await thenInPlace(sink, path.join(dir, 'app.yaml'), r);
      await rename(path.join(dir, 'app.yaml'), path.join(outside, 'app.yaml'));
      await gone(sink, r);
    });
  });

  it(`sees a subdirectory made later, and files then created and edited in it, ${ROUNDS} times`, async () => {
    const dir = await tempDir();
    const other = K.svc('other');
    await rounds(dir, async (r, sink) => {
      await put(dir, 'team/x/app.yaml', svcRound('app', r));
      await roundDelivered(sink, r);
      // Made after the scan that found team/x: only a watch on team/x can report these.
      await writeFile(path.join(dir, 'team/x/other.yaml'), svcRound('other', r));
      await roundDelivered(sink, r, other);
      await thenInPlace(sink, path.join(dir, 'team/x/other.yaml'), r, 'other');
      await rm(path.join(dir, 'team'), { recursive: true });
      await gone(sink, r);
      await gone(sink, r, other);
    });
  });

  it(`sees a whole subdirectory deleted and another moved in its place, ${ROUNDS} times`, async () => {
    const dir = await tree({ 'team/app.yaml': svcRound('app', 0) });
    await rounds(dir, async (r, sink) => {
      await put(dir, '.team.new/app.yaml', svcRound('app', r));
      await rm(path.join(dir, 'team'), { recursive: true });
      await rename(path.join(dir, '.team.new'), path.join(dir, 'team'));
      await roundDelivered(sink, r);
      // The new directory is watched too: an edit in place inside it is seen.
      await thenInPlace(sink, path.join(dir, 'team/app.yaml'), r);
    });
  });

  it(`sees a subdirectory deleted and made again at once (its inode number comes back), ${ROUNDS} times`, async () => {
    // ext4 and tmpfs hand the freed inode number to the next mkdir: the new directory looks
    // like the old one by dev:ino, but the old watch died with the old directory.
    const dir = await tree({ 'team/app.yaml': svcRound('app', 0) });
    await rounds(dir, async (r, sink) => {
      await rm(path.join(dir, 'team'), { recursive: true });
      await put(dir, 'team/app.yaml', svcRound('app', r));
      await roundDelivered(sink, r);
      await thenInPlace(sink, path.join(dir, 'team/app.yaml'), r);
    });
  });

  it(`sees a subdirectory swapped by two renames, ${ROUNDS} times`, async () => {
    const dir = await tree({ 'team/app.yaml': svcRound('app', 0) });
    await rounds(dir, async (r, sink) => {
      await put(dir, '.team.new/app.yaml', svcRound('app', r));
      await rename(path.join(dir, 'team'), path.join(dir, '.team.old'));
      await rename(path.join(dir, '.team.new'), path.join(dir, 'team'));
      await rm(path.join(dir, '.team.old'), { recursive: true });
      await roundDelivered(sink, r);
      await thenInPlace(sink, path.join(dir, 'team/app.yaml'), r);
    });
  });

  it(`sees files in a directory reached through a symlink edited and replaced, ${ROUNDS} times`, async () => {
    const dir = await tempDir();
    const outside = await tree({ 'app.yaml': svcRound('app', 0) });
    await symlink(outside, path.join(dir, 'linked'));
    await rounds(dir, async (r, sink) => {
      await writeFile(path.join(outside, '.tmp'), svcRound('app', r));
      await rename(path.join(outside, '.tmp'), path.join(outside, 'app.yaml'));
      await roundDelivered(sink, r);
      await thenInPlace(sink, path.join(outside, 'app.yaml'), r);
    });
  });

  it(`sees a symlinked directory pointed elsewhere by renaming a new symlink over it, ${ROUNDS} times`, async () => {
    const dir = await tempDir();
    const outside = await tempDir();
    await put(outside, 'v0/app.yaml', svcRound('app', 0));
    await symlink(path.join(outside, 'v0'), path.join(dir, 'conf'));
    await rounds(dir, async (r, sink) => {
      await put(outside, `v${r}/app.yaml`, svcRound('app', r));
      await symlink(path.join(outside, `v${r}`), path.join(dir, '.conf.tmp'));
      await rename(path.join(dir, '.conf.tmp'), path.join(dir, 'conf'));
      await rm(path.join(outside, `v${r - 1}`), { recursive: true });
      await roundDelivered(sink, r);
      // And the directory it points at now is watched.
      await thenInPlace(sink, path.join(outside, `v${r}/app.yaml`), r);
    });
  });

  it(`sees a ConfigMap volume update (kubelet AtomicWriter's ..data swap), ${ROUNDS} times`, async () => {
    // Files live in a timestamped dot-directory, `..data` points at it, and the visible names
    // are symlinks through `..data`; an update writes a new directory and renames a new
    // `..data` symlink over the old one, then removes the old directory.
    const dir = await tree({ '..2026_01_01_00/app.yaml': svcRound('app', 0), '..2026_01_01_00/nested/deep.yaml': svcRound('deep', 0) });
    await symlink('..2026_01_01_00', path.join(dir, '..data'));
    await symlink('..data/app.yaml', path.join(dir, 'app.yaml'));
    await symlink('..data/nested', path.join(dir, 'nested'));
    await rounds(dir, async (r, sink) => {
      if (r === 1) expect(sink.round(APP)).toBe('00');
      const ts = `..2026_01_01_${r2(r)}`;
      await put(dir, `${ts}/app.yaml`, svcRound('app', r));
      await put(dir, `${ts}/nested/deep.yaml`, svcRound('deep', r));
      await symlink(ts, path.join(dir, '..data_tmp'));
      await rename(path.join(dir, '..data_tmp'), path.join(dir, '..data'));
      await rm(path.join(dir, `..2026_01_01_${r2(r - 1)}`), { recursive: true });
      await roundDelivered(sink, r);
      await roundDelivered(sink, r, K.svc('deep'));
      // In place, through the symlinks (kubelet never does this; a person might).
      await thenInPlace(sink, path.join(dir, ts, 'nested/deep.yaml'), r, 'deep');
    });
  });

  it(`sees the root directory itself replaced by rename, ${ROUNDS} times`, async () => {
    const parent = await tempDir();
    const dir = path.join(parent, 'root');
    await put(dir, 'app.yaml', svcRound('app', 0));
    const log = new RecordingLog();
    const rootMissed = () => log.entries.filter((e) => e.obj.code === 'GH_MANIFEST_UNREADABLE' && e.obj.dir === dir).length;
    const round = async (r: number, sink: RecordingSink) => {
      await put(parent, 'root.new/app.yaml', svcRound('app', r));
      const missed = rootMissed();
      await rename(dir, path.join(parent, 'root.old'));
      // Every other round, the source has found the root gone before the new one comes in:
      // then only the watch on the parent can report it.
      if (r % 2 === 0) await waitFor(() => rootMissed() > missed, `round ${r}: the root to be missed`, 15_000);
      await rename(path.join(parent, 'root.new'), dir);
      await rm(path.join(parent, 'root.old'), { recursive: true });
      await roundDelivered(sink, r);
      // The new root is watched: an edit in place in it is seen.
      await thenInPlace(sink, path.join(dir, 'app.yaml'), r);
    };
    await rounds(dir, round, log);
  });
});

describe('ManifestSource: the periodic re-scan', () => {
  it('finds a change no watch can see: the target, outside the tree, of a symlinked file', async () => {
    const dir = await tempDir();
    const outside = await tree({ 'app.yaml': svcRound('app', 0) });
    await symlink(path.join(outside, 'app.yaml'), path.join(dir, 'app.yaml'));
    const { sink, log } = await started(dir, { rescanIntervalMs: 50, retryMs: 3_600_000 });
    for (let r = 1; r <= 3; r++) {
      await writeFile(path.join(outside, 'app.yaml'), svcRound('app', r));
      await waitFor(() => sink.round(K.svc('app')) === `0${r}`, `round ${r}`, 15_000);
    }
    // Only periodic scans ran: no watch reported anything.
    expect(log.scans().filter((s) => s.upserted > 0).map((s) => s.periodic)).toEqual([true, true, true]);
  });

  it('reads, parses and delivers nothing for an unchanged tree, however often it runs; an event still gets a file read', async () => {
    const dir = await tree({ 'a.yaml': svc('a'), 'sub/b.yaml': svc('b'), 'sub/deeper/c.json': JSON.stringify({ apiVersion: 'v1', kind: 'Service', metadata: { name: 'c' } }) });
    // The real fs.watch, with its listeners kept so the test can replay an event.
    const listeners = new Map<string, (event: string, name: string | null) => void>();
    const watchFn = (d: string, listener: (event: string, name: string | null) => void) => {
      listeners.set(d, listener);
      return fsWatch(d, listener);
    };
    const { sink, log } = await started(dir, { rescanIntervalMs: 20, watch: watchFn });
    const mark = sink.events.length;
    // Files written just before the first read are racily clean: read again by content (never
    // parsed) until their ctime is RACY_MARGIN_MS old. Then a re-scan only stats.
    await waitFor(() => log.scans().some((s) => s.read === 0), 'a scan that reads nothing', 15_000);
    const from = log.scans().findIndex((s) => s.read === 0);
    await waitFor(() => log.scans().length >= from + 20, '20 more scans', 15_000);
    expect(log.scans().slice(from).every((s) => s.periodic && s.read === 0)).toBe(true);

    // A file an event names is read whatever its stat says (a same-size write within one
    // timestamp tick leaves the stat as it was); the same bytes are not parsed.
    const replayed = log.scans().length;
    listeners.get(path.join(dir, 'sub'))!('change', 'b.yaml');
    await waitFor(() => log.scans().slice(replayed).some((s) => s.read === 1), 'the named file to be read');
    expect(log.scans().every((s) => s.files === 3 && s.parsed === 0 && s.upserted === 0 && s.removed === 0)).toBe(true);
    expect(sink.events.slice(mark)).toEqual([]);
  });

  it('covers directories beyond the watch limit, and says so once', async () => {
    const dir = await tree({ 'a.yaml': svc('a'), 'sub/b.yaml': svc('b', 80), 'sub2/c.yaml': svc('c') });
    const { sink, log } = await started(dir, { maxWatches: 1, rescanIntervalMs: 50, retryMs: 3_600_000 });
    const limited = () => log.entries.filter((e) => e.msg.startsWith('cannot watch every manifest directory'));
    expect(limited()).toMatchObject([{ level: 'warn', obj: { unwatched: 2, watched: 1, reason: 'the limit of 1 watched directories' } }]);
    await writeFile(path.join(dir, 'sub/b.yaml'), svc('b', 81));
    await waitFor(() => sink.port(K.svc('b')) === 81, 'the change in the unwatched directory', 15_000);
    expect(log.scans().find((s) => s.upserted > 0)?.periodic).toBe(true);
    expect(limited()).toHaveLength(1);
    // Under the limit again (the root's watch sees these go): said once too.
    await rm(path.join(dir, 'sub'), { recursive: true });
    await rm(path.join(dir, 'sub2'), { recursive: true });
    // The recovery is logged when the watches are set, before that scan delivers the removals.
    await waitFor(() => log.entries.some((e) => e.msg === 'watching every manifest directory again'), 'the recovery to be logged', 15_000);
    await waitFor(() => sink.keys().length === 1, 'the removals to be delivered', 15_000);
    expect(sink.keys()).toEqual([K.svc('a')]);
    expect(log.entries.filter((e) => e.msg === 'watching every manifest directory again')).toHaveLength(1);
  });

  it('stops when the source closes', async () => {
    const dir = await tree({ 'a.yaml': svc('a') });
    const { source, log } = await started(dir, { rescanIntervalMs: 10 });
    await waitFor(() => log.scans().length >= 2, 'two re-scans');
    await source.close();
    const seen = log.scans().length;
    await new Promise((r) => setTimeout(r, 100));
    expect(log.scans()).toHaveLength(seen);
  });
});

describe('ManifestSource: watches the kernel refuses', () => {
  it('logs ENOSPC once, finds changes by the retry, and watches again once the kernel allows', async () => {
    const dir = await tree({ 'a.yaml': svc('a'), 'sub/b.yaml': svc('b', 80) });
    let refuse = true;
    const watchFn = (d: string, listener: (event: string, name: string | null) => void) => {
      if (refuse && d.endsWith(`${path.sep}sub`)) throw Object.assign(new Error('ENOSPC: System limit for number of file watchers reached, watch'), { code: 'ENOSPC' });
      return fsWatch(d, listener);
    };
    // No periodic re-scan: the retry's backoff looks again at what could not be watched.
    const { sink, log } = await started(dir, { watch: watchFn, rescanIntervalMs: 0, retryMs: 50 });
    const limited = () => log.entries.filter((e) => e.msg.startsWith('cannot watch every manifest directory'));
    expect(limited()).toMatchObject([{ level: 'warn', obj: { dir: path.join(dir, 'sub'), reason: expect.stringContaining('ENOSPC') } }]);
    await writeFile(path.join(dir, 'sub/b.yaml'), svc('b', 81));
    await waitFor(() => sink.port(K.svc('b')) === 81, 'the change found by the retry', 15_000);
    expect(limited()).toHaveLength(1);

    refuse = false;
    await waitFor(() => log.entries.some((e) => e.msg === 'watching every manifest directory again'), 'the watch to be set', 15_000);
    // No retry is pending once every directory is watched: this change can only come by the watch.
    await writeFile(path.join(dir, 'sub/b.yaml'), svc('b', 82));
    await waitFor(() => sink.port(K.svc('b')) === 82, 'the change seen by the new watch', 15_000);
  });
});

describe('ManifestSource: what a change costs', () => {
  it('reads a touched file but neither parses nor delivers it', async () => {
    const dir = await tree({ 'a.yaml': svc('a'), 'b.yaml': svc('b') });
    const { sink, log } = await started(dir, { rescanIntervalMs: 0 });
    const mark = sink.events.length;
    const later = new Date(Date.now() + 60_000);
    await utimes(path.join(dir, 'a.yaml'), later, later);
    await waitFor(() => log.scans().length > 0, 'the scan after the touch');
    // b.yaml may be read as well: written just before the first scan, it is racily clean.
    expect(log.scans()[0]).toMatchObject({ read: expect.toBeOneOf([1, 2]), parsed: 0, upserted: 0, removed: 0 });
    expect(sink.events.slice(mark)).toEqual([]);
  });

  it('parses only the file that changed, and delivers only the object that changed', async () => {
    const dir = await tree({ 'a.yaml': `${svc('a')}---\n${svc('a2')}`, 'b.yaml': svc('b'), 'sub/c.yaml': svc('c') });
    const { sink, log } = await started(dir, { rescanIntervalMs: 0 });
    const mark = sink.events.length;
    // Written whole by rename, so that no scan can see it half-written.
    await writeFile(path.join(dir, '.a.yaml.tmp'), `${svc('a')}---\n${svc('a2', 81)}`);
    await rename(path.join(dir, '.a.yaml.tmp'), path.join(dir, 'a.yaml'));
    await waitFor(() => sink.port(K.svc('a2')) === 81, 'the edit');
    expect(log.scans().filter((s) => s.parsed > 0)).toMatchObject([{ parsed: 1, upserted: 1, removed: 0 }]);
    expect(sink.events.slice(mark)).toEqual([{ op: 'upsert', key: K.svc('a2') }, { op: 'synced' }]);
  });
});
