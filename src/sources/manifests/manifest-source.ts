// Local mode: a directory of manifests, watched (DESIGN.md, "Data flow" 1). Every event
// only triggers a rescan of the whole tree; files whose stat did not change are not read
// again, and the resulting object set is diffed against what the sink already has, so
// the sink sees each change once, whatever order the events came in.
//
// Layout rules:
// - `*.yaml`, `*.yml`, `*.json` (any case) anywhere under the directory.
// - Names starting with a dot are skipped: editor swap and lock files, and the `..data` /
//   `..<timestamp>` directories of a mounted ConfigMap or Secret, whose visible files are
//   symlinks into them (kubelet's AtomicWriter). Symlinks are followed, to files and to
//   directories; a directory reached twice (a symlink loop) is read once.
// - The same object in two places: the first in path order (code-unit order of the path
//   relative to the directory, then document order) wins.

import { watch } from 'node:fs';
import type { BigIntStats, FSWatcher } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { objectKey } from '../../core/snapshot.ts';
import type { KubeObject } from '../../core/snapshot.ts';
import { GatehouseError } from '../../errors.ts';
import type { Log, Source, SourceSink } from '../source.ts';
import { silentLog } from '../source.ts';
import { manifestFormat, parseManifests } from './parse-manifests.ts';
import type { ManifestObject, ManifestProblem } from './parse-manifests.ts';

export interface ManifestSourceOptions {
  /** The directory to read, recursively. */
  readonly dir: string;
  readonly log?: Log;
  /** Quiet time after the last filesystem event before rescanning. Default 50 ms. */
  readonly debounceMs?: number;
  /** Longest wait after the first event of a burst, so constant writes cannot starve updates. Default 500 ms. */
  readonly maxDelayMs?: number;
  /** First delay before retrying after a watcher error or a vanished directory; doubles up to 30 s. Default 1000 ms. */
  readonly retryMs?: number;
}

/** Files larger than this are refused; the API server caps an object at about 1.5 MiB. */
const MAX_FILE_BYTES = 32 * 1024 * 1024;
const MAX_RETRY_MS = 30_000;

interface CachedFile {
  /** dev, inode, size, mtime and ctime of the version last read (good or not). */
  readonly signature: string;
  /** Objects of the last version that parsed. */
  readonly objects: readonly ManifestObject[];
}

interface Delivered {
  readonly object: KubeObject;
  json: string | null;
}

interface Scan {
  /** Manifest files found, by path relative to the directory (`/`-separated). */
  readonly files: Map<string, BigIntStats>;
  /** Paths (files or directories) that exist but could not be examined: keep what they held. */
  readonly kept: string[];
  /** Path-level problems of this scan, by path, for logging once when they appear. */
  readonly problems: Map<string, string>;
}

export class ManifestSource implements Source {
  private readonly dir: string;
  private readonly log: Log;
  private readonly debounceMs: number;
  private readonly maxDelayMs: number;
  private readonly retryMs: number;

  private state: 'new' | 'running' | 'closed' = 'new';
  private sink: SourceSink | null = null;
  private closing: Promise<void> | null = null;

  private watcher: FSWatcher | null = null;
  /** dev:ino of the directory the watcher watches; a directory replaced under its name needs a new watcher. */
  private watchedId = '';
  private debounceTimer: NodeJS.Timeout | null = null;
  private burstStart = 0;
  private retryTimer: NodeJS.Timeout | null = null;
  private retryDelay: number;
  private scanning: Promise<void> | null = null;
  private rescanAgain = false;

  private readonly cache = new Map<string, CachedFile>();
  private readonly delivered = new Map<string, Delivered>();
  /** Duplicates reported last time, so that one is logged when it appears, not on every rescan. */
  private duplicates = new Set<string>();
  private problems = new Map<string, string>();

  constructor(options: ManifestSourceOptions) {
    this.dir = options.dir;
    this.log = options.log ?? silentLog;
    this.debounceMs = options.debounceMs ?? 50;
    this.maxDelayMs = Math.max(options.maxDelayMs ?? 500, this.debounceMs);
    this.retryMs = options.retryMs ?? 1000;
    this.retryDelay = this.retryMs;
  }

  async start(sink: SourceSink): Promise<void> {
    if (this.state !== 'new') throw new Error(`ManifestSource for ${this.dir} was already ${this.state === 'closed' ? 'closed' : 'started'}`);
    this.state = 'running';
    this.sink = sink;
    let st: BigIntStats;
    try {
      st = await stat(this.dir, { bigint: true });
    } catch (err) {
      await this.close();
      const code = errorCode(err);
      throw new GatehouseError(
        'GH_MANIFEST_UNREADABLE',
        code === 'ENOENT' ? `manifest directory ${this.dir} does not exist` : `manifest directory ${this.dir} cannot be read: ${errorReason(err)}`,
      );
    }
    if (!st.isDirectory()) {
      await this.close();
      throw new GatehouseError('GH_MANIFEST_UNREADABLE', `manifest directory ${this.dir} is not a directory`);
    }
    // Watch before the first scan, so a change made while it runs is not lost.
    this.ensureWatcher(`${st.dev}:${st.ino}`);
    try {
      const run = this.rescan(true);
      this.scanning = run;
      await run;
    } catch (err) {
      await this.close();
      throw err;
    } finally {
      this.scanning = null;
    }
    if (this.rescanAgain && this.state === 'running') {
      this.rescanAgain = false;
      this.schedule();
    }
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      this.state = 'closed';
      if (this.debounceTimer) clearTimeout(this.debounceTimer);
      if (this.retryTimer) clearTimeout(this.retryTimer);
      this.debounceTimer = null;
      this.retryTimer = null;
      this.closeWatcher();
      // A rescan in flight checks the state before it delivers; wait so that nothing is
      // delivered after close() resolves.
      await this.scanning?.catch(() => undefined);
    })();
    return this.closing;
  }

  // ---- watching and scheduling ------------------------------------------------------

  private ensureWatcher(id: string): void {
    if (this.watcher && this.watchedId === id) return;
    this.closeWatcher();
    try {
      // Linux has recursive fs.watch since Node 20. Events only say "something changed";
      // filenames are not trusted (a ConfigMap update renames only `..data`).
      const w = watch(this.dir, { recursive: true }, () => this.schedule());
      w.on('error', (err) => {
        // EMFILE/ENOSPC (inotify limits), a subdirectory vanishing while being added, ...
        this.log.error({ dir: this.dir, err: errorReason(err) }, 'manifest watcher failed; rescanning and watching again');
        if (this.watcher === w) this.closeWatcher();
        this.retryLater();
      });
      this.watcher = w;
      this.watchedId = id;
    } catch (err) {
      this.log.error({ dir: this.dir, err: errorReason(err) }, 'cannot watch manifest directory; retrying');
      this.retryLater();
    }
  }

  private closeWatcher(): void {
    const w = this.watcher;
    this.watcher = null;
    this.watchedId = '';
    try {
      w?.close();
    } catch {
      // already closed
    }
  }

  /** Debounce: rescan after `debounceMs` of quiet, or `maxDelayMs` after the burst began. */
  private schedule(): void {
    if (this.state !== 'running') return;
    if (this.scanning) {
      this.rescanAgain = true;
      return;
    }
    const now = Date.now();
    if (this.debounceTimer) clearTimeout(this.debounceTimer);
    else this.burstStart = now;
    const delay = Math.max(0, Math.min(this.debounceMs, this.burstStart + this.maxDelayMs - now));
    this.debounceTimer = setTimeout(() => this.run(), delay);
  }

  private retryLater(): void {
    if (this.state !== 'running' || this.retryTimer) return;
    const delay = this.retryDelay;
    this.retryDelay = Math.min(this.retryDelay * 2, MAX_RETRY_MS);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      this.schedule();
    }, delay);
  }

  private run(): void {
    this.debounceTimer = null;
    if (this.state !== 'running') return;
    if (this.scanning) {
      this.rescanAgain = true;
      return;
    }
    const run = this.rescan(false).catch((err: unknown) => {
      // Only a throwing sink gets here; keep going, the next event rescans.
      this.log.error({ dir: this.dir, err: errorReason(err) }, 'applying manifest changes failed');
    });
    this.scanning = run.finally(() => {
      this.scanning = null;
      if (this.rescanAgain) {
        this.rescanAgain = false;
        this.schedule();
      }
    });
  }

  // ---- scanning ---------------------------------------------------------------------

  private async rescan(initial: boolean): Promise<void> {
    let root: BigIntStats;
    try {
      root = await stat(this.dir, { bigint: true });
      if (!root.isDirectory()) throw Object.assign(new Error('not a directory'), { code: 'ENOTDIR' });
    } catch (err) {
      if (initial) throw new GatehouseError('GH_MANIFEST_UNREADABLE', `manifest directory ${this.dir} cannot be read: ${errorReason(err)}`);
      // Gone or replaced by something else: keep serving what we have, and look again later.
      this.reportProblems(new Map([['', `manifest directory cannot be read: ${errorReason(err)}`]]));
      this.closeWatcher();
      this.retryLater();
      return;
    }
    this.ensureWatcher(`${root.dev}:${root.ino}`);

    const scan: Scan = { files: new Map(), kept: [], problems: new Map() };
    await this.walk(this.dir, '', new Set([`${root.dev}:${root.ino}`]), scan);
    const reread = await this.readChanged(scan);
    if (this.state !== 'running') return;

    // Forget files that are gone, except those under a path we could not look into.
    for (const rel of this.cache.keys()) {
      if (!scan.files.has(rel) && !scan.kept.some((k) => rel === k || rel.startsWith(`${k}/`))) this.cache.delete(rel);
    }
    this.reportProblems(scan.problems);
    this.deliver(this.merge(reread), initial);
    if (this.watcher) this.retryDelay = this.retryMs;
  }

  private async walk(abs: string, rel: string, seen: Set<string>, scan: Scan): Promise<void> {
    let entries;
    try {
      entries = await readdir(abs, { withFileTypes: true });
    } catch (err) {
      if (isGone(err)) return; // removed while we walked: its files are gone too
      scan.kept.push(rel);
      scan.problems.set(rel, `directory cannot be read: ${errorReason(err)}`);
      return;
    }
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const entry of entries) {
      if (entry.name.startsWith('.')) continue;
      const isManifest = manifestFormat(entry.name) !== null;
      // Skip plain files of other types without a stat; symlinks and directories need one.
      if (entry.isFile() && !isManifest) continue;
      if (!entry.isFile() && !entry.isDirectory() && !entry.isSymbolicLink()) continue;
      const childAbs = path.join(abs, entry.name);
      const childRel = rel === '' ? entry.name : `${rel}/${entry.name}`;
      let st: BigIntStats;
      try {
        st = await stat(childAbs, { bigint: true }); // follows symlinks
      } catch (err) {
        if (isGone(err) || errorCode(err) === 'ELOOP') {
          // A dangling symlink, or a file removed while we walked: not there.
          if (entry.isSymbolicLink() && isManifest) this.log.debug({ file: this.file(childRel), reason: errorReason(err) }, 'skipping broken symlink');
          continue;
        }
        scan.kept.push(childRel);
        scan.problems.set(childRel, `cannot be examined: ${errorReason(err)}`);
        continue;
      }
      if (st.isDirectory()) {
        const id = `${st.dev}:${st.ino}`;
        if (seen.has(id)) continue; // a symlink loop, or a second link to a directory already read
        seen.add(id);
        await this.walk(childAbs, childRel, seen, scan);
      } else if (st.isFile() && isManifest) {
        scan.files.set(childRel, st);
      }
    }
  }

  /** Reads the files whose stat changed since they were last read. Returns their paths. */
  private async readChanged(scan: Scan): Promise<Set<string>> {
    const reread = new Set<string>();
    for (const [rel, st] of scan.files) {
      const signature = `${st.dev}:${st.ino}:${st.size}:${st.mtimeNs}:${st.ctimeNs}`;
      const cached = this.cache.get(rel);
      if (cached?.signature === signature) continue;
      reread.add(rel);
      const file = this.file(rel);
      let text: string;
      try {
        if (st.size > BigInt(MAX_FILE_BYTES)) throw new Error(`larger than ${MAX_FILE_BYTES} bytes`);
        text = await readFile(path.join(this.dir, rel), 'utf8');
      } catch (err) {
        if (isGone(err)) {
          scan.files.delete(rel); // removed between the walk and the read
          continue;
        }
        this.unreadable(rel, signature, cached, errorReason(err));
        continue;
      }
      const parsed = parseManifests(text, manifestFormat(rel)!);
      if (!parsed.ok) {
        this.unreadable(rel, signature, cached, parsed.reason);
        continue;
      }
      for (const p of parsed.invalid) {
        this.log.warn({ code: 'GH_OBJECT_INVALID', file, ...located(p), reason: p.reason }, 'object left out');
      }
      for (const p of parsed.ignored) {
        this.log.debug({ file, ...located(p), reason: p.reason }, 'object of a kind not watched ignored');
      }
      this.cache.set(rel, { signature, objects: parsed.objects });
    }
    return reread;
  }

  /** A file that does not read or parse keeps its last good objects (it may be half-written). */
  private unreadable(rel: string, signature: string, cached: CachedFile | undefined, reason: string): void {
    this.log.warn(
      { code: 'GH_MANIFEST_UNREADABLE', file: this.file(rel), reason, keeping: cached ? cached.objects.length : 0 },
      cached ? 'manifest file unreadable; its last good contents stay in effect' : 'manifest file unreadable',
    );
    this.cache.set(rel, { signature, objects: cached?.objects ?? [] });
  }

  private reportProblems(problems: Map<string, string>): void {
    for (const [rel, reason] of problems) {
      if (this.problems.get(rel) === reason) continue;
      const where = rel === '' ? { dir: this.dir } : { file: this.file(rel) };
      this.log.error({ code: 'GH_MANIFEST_UNREADABLE', ...where, reason }, 'manifests under this path stay as they were');
    }
    for (const rel of this.problems.keys()) {
      if (!problems.has(rel)) this.log.info({ ...(rel === '' ? { dir: this.dir } : { file: this.file(rel) }) }, 'manifest path readable again');
    }
    this.problems = problems;
  }

  // ---- merging and delivery ---------------------------------------------------------

  /** The object set across all files: first file in path order wins (GH_OBJECT_DUPLICATE). */
  private merge(reread: Set<string>): Map<string, { object: KubeObject; file: string }> {
    const next = new Map<string, { object: KubeObject; file: string }>();
    const duplicates = new Set<string>();
    for (const rel of [...this.cache.keys()].sort()) {
      for (const entry of this.cache.get(rel)!.objects) {
        const { kind, metadata } = entry.object;
        const key = objectKey(kind, metadata.namespace, metadata.name);
        const winner = next.get(key);
        if (!winner) {
          next.set(key, { object: entry.object, file: rel });
          continue;
        }
        const id = `${key}\0${rel}\0${entry.document}\0${entry.item}\0${winner.file}`;
        duplicates.add(id);
        if (!this.duplicates.has(id) || reread.has(rel) || reread.has(winner.file)) {
          this.log.warn(
            {
              code: 'GH_OBJECT_DUPLICATE',
              file: this.file(rel),
              ...located(entry),
              kind,
              namespace: metadata.namespace,
              name: metadata.name,
              winner: this.file(winner.file),
            },
            'duplicate object left out; the first file in path order wins',
          );
        }
      }
    }
    this.duplicates = duplicates;
    return next;
  }

  private deliver(next: Map<string, { object: KubeObject }>, initial: boolean): void {
    const sink = this.sink!;
    let removed = 0;
    let upserted = 0;
    for (const [key, { object }] of this.delivered) {
      if (next.has(key)) continue;
      this.delivered.delete(key);
      sink.remove(object.kind, object.metadata.namespace, object.metadata.name);
      removed++;
    }
    for (const [key, { object }] of next) {
      const prev = this.delivered.get(key);
      if (prev) {
        if (prev.object === object) continue;
        prev.json ??= JSON.stringify(prev.object);
        const json = JSON.stringify(object);
        if (prev.json === json) {
          this.delivered.set(key, { object, json });
          continue;
        }
        this.delivered.set(key, { object, json });
      } else {
        this.delivered.set(key, { object, json: null });
      }
      sink.upsert(object);
      upserted++;
    }
    if (initial) {
      this.log.info({ dir: this.dir, files: this.cache.size, objects: this.delivered.size }, 'manifests loaded');
    } else if (removed + upserted > 0) {
      this.log.debug({ dir: this.dir, upserted, removed }, 'manifest changes applied');
    }
    if (initial || removed + upserted > 0) sink.synced();
  }

  private file(rel: string): string {
    return path.join(this.dir, rel);
  }
}

function located(p: ManifestObject | ManifestProblem): Record<string, unknown> {
  const out: Record<string, unknown> = { document: p.document };
  if (p.item !== '') out.item = p.item;
  if (p.line !== undefined) out.line = p.line;
  if ('kind' in p && p.kind !== undefined) out.kind = p.kind;
  if ('namespace' in p && p.namespace !== undefined) out.namespace = p.namespace;
  if ('name' in p && p.name !== undefined) out.name = p.name;
  return out;
}

function errorCode(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null && 'code' in err && typeof err.code === 'string' ? err.code : undefined;
}

function errorReason(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function isGone(err: unknown): boolean {
  const code = errorCode(err);
  return code === 'ENOENT' || code === 'ENOTDIR';
}
