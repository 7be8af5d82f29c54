// Local mode: a directory of manifests, watched (DESIGN.md, "Data flow" 1). An event only
// marks a path dirty and schedules a scan; a scan walks and stats the whole tree, reads the
// files whose stat changed or that are dirty or racily clean (below), parses only those whose
// content hash changed, and diffs the resulting object set against what the sink already has,
// so the sink sees each change once, whatever order the events came in.
//
// Watching (directory-watchers.ts): one non-recursive watch per directory the walk reaches,
// and one on the root's parent for the root's name. A periodic re-scan (`rescanIntervalMs`)
// is the safety net for what no watch can see: a file reached through a symlink whose target
// lies outside the watched directories, directories beyond the watch limit, or watches the
// kernel refused (ENOSPC).
//
// Change detection, as git's index does it: a file's stat signature (dev, inode, size, mtime,
// ctime) says when it must be read again. Timestamps are only as fine as the filesystem's tick,
// so two same-size writes within one tick leave the signature as it was: a file named by an
// event is read and hashed whatever its stat says, and a file whose ctime is within
// RACY_MARGIN_MS of the time it was last read ("racily clean") is read again on the next
// scan. Reading costs little; a file is parsed only when its content hash changed, and then
// only its YAML documents whose text changed (parse-manifests.ts): the others keep their objects.
//
// Layout rules:
// - `*.yaml`, `*.yml`, `*.json` (any case) anywhere under the directory.
// - Names starting with a dot are skipped: editor swap and lock files, and the `..data` /
//   `..<timestamp>` directories of a mounted ConfigMap or Secret, whose visible files are
//   symlinks into them (kubelet's AtomicWriter). Symlinks are followed, to files and to
//   directories; a directory reached twice (a symlink loop) is read once.
// - The same object in two places: the first in path order (code-unit order of the path
//   relative to the directory, then document order) wins.

import { createHash } from 'node:crypto';
import type { BigIntStats } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { objectKey } from '../../core/snapshot.ts';
import type { KubeObject } from '../../core/snapshot.ts';
import { errorCode, errorReason, GatehouseError } from '../../errors.ts';
import type { Log, Source, SourceSink } from '../source.ts';
import { silentLog } from '../source.ts';
import { DirectoryWatchers } from './directory-watchers.ts';
import type { WatchFunction } from './directory-watchers.ts';
import { manifestFormat, parseManifests } from './parse-manifests.ts';
import type { ManifestObject, ManifestProblem, ParsedDocuments } from './parse-manifests.ts';

export interface ManifestSourceOptions {
  /** The directory to read, recursively. */
  readonly dir: string;
  readonly log?: Log;
  /** Quiet time after the last filesystem event before rescanning. Default 20 ms. */
  readonly debounceMs?: number;
  /** Longest wait after the first event of a burst, so constant writes cannot starve updates. Default 500 ms. */
  readonly maxDelayMs?: number;
  /** First delay before retrying after a watcher error or a vanished directory; doubles up to 30 s. Default 1000 ms. */
  readonly retryMs?: number;
  /**
   * Period of the safety-net re-scan, which finds changes no watch reported (see the top of
   * this file). It stats the tree and reads only files whose stat changed or that are racily
   * clean. Default 5000 ms; 0 turns it off.
   */
  readonly rescanIntervalMs?: number;
  /** Most directories watched at once (each costs an inotify watch); the rest rely on the re-scan. Default 4096. */
  readonly maxWatches?: number;
  /** `fs.watch`, replaceable so tests can make it fail as the kernel does (ENOSPC). */
  readonly watch?: WatchFunction;
}

/** Files larger than this are refused; the API server caps an object at about 1.5 MiB. */
const MAX_FILE_BYTES = 32 * 1024 * 1024;
const MAX_RETRY_MS = 30_000;
/**
 * A file whose ctime is this close to (or after) the time it was last read may have changed
 * again within the same timestamp tick, unseen by its stat: git's "racily clean" entries. The
 * margin covers the coarsest timestamps a manifest directory may sit on (FAT: 2 s; ext3, HFS+,
 * some NFS servers: 1 s; ext4, xfs, btrfs, tmpfs: a jiffy). ctime, not mtime: every write sets
 * it to the current time, and `touch -d` or `cp -p` cannot set it back.
 */
const RACY_MARGIN_MS = 2000;
/** Past this many dirty paths between two scans, the whole tree is dirty (an event storm). */
const MAX_DIRTY_PATHS = 10_000;
const NO_DOCUMENTS: ParsedDocuments = new Map();

interface CachedFile {
  /** dev, inode, size, mtime and ctime of the version last read (good or not). */
  readonly signature: string;
  /** Wall-clock time (ms) just before that version was read, for the racily-clean rule. */
  readonly readAt: number;
  /** SHA-256 of the bytes last read; '' when the read failed. */
  readonly hash: string;
  /** Objects of the last version that parsed. */
  readonly objects: readonly ManifestObject[];
  /** Its YAML documents, by text: a new version parses only the documents that changed. */
  readonly documents?: ParsedDocuments | undefined;
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
  /** Directories holding symlinks (see onWatchEvent). */
  readonly linkDirs: Set<string>;
  /** Paths named by events since the previous scan ('' is the whole tree). */
  readonly dirty: ReadonlySet<string>;
}

interface ReadCounts {
  read: number;
  parsed: number;
}

export class ManifestSource implements Source {
  private readonly dir: string;
  private readonly log: Log;
  private readonly debounceMs: number;
  private readonly maxDelayMs: number;
  private readonly retryMs: number;
  private readonly rescanIntervalMs: number;
  private readonly watchers: DirectoryWatchers;

  private state: 'new' | 'running' | 'closed' = 'new';
  private sink: SourceSink | null = null;
  private closing: Promise<void> | null = null;

  private debounceTimer: NodeJS.Timeout | null = null;
  private burstStart = 0;
  private retryTimer: NodeJS.Timeout | null = null;
  private retryDelay: number;
  private rescanTimer: NodeJS.Timeout | null = null;
  /** The periodic timer asked for the next scan (for its debug line). */
  private periodicDue = false;
  private scanning: Promise<void> | null = null;
  private rescanAgain = false;

  /** Paths named by watch events since the last scan began. */
  private dirty = new Set<string>();
  /** Directories that held a symlink at the last scan. */
  private linkDirs = new Set<string>();
  private readonly cache = new Map<string, CachedFile>();
  private readonly delivered = new Map<string, Delivered>();
  /** Duplicates reported last time, so that one is logged when it appears, not on every rescan. */
  private duplicates = new Set<string>();
  /** The keys of those duplicates. */
  private duplicateKeys = new Set<string>();
  private problems = new Map<string, string>();

  constructor(options: ManifestSourceOptions) {
    this.dir = options.dir;
    this.log = options.log ?? silentLog;
    this.debounceMs = options.debounceMs ?? 20;
    this.maxDelayMs = Math.max(options.maxDelayMs ?? 500, this.debounceMs);
    this.retryMs = options.retryMs ?? 1000;
    this.retryDelay = this.retryMs;
    this.rescanIntervalMs = options.rescanIntervalMs ?? 5000;
    this.watchers = new DirectoryWatchers({
      root: this.dir,
      max: options.maxWatches ?? 4096,
      log: this.log,
      ...(options.watch ? { watch: options.watch } : {}),
      onEvent: (dir, name) => this.onWatchEvent(dir, name),
      onFailure: () => this.retryLater(),
    });
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
    // Every directory is watched before it is read (in walk), so a change made while the
    // first scan runs is not lost.
    this.watchers.watchParent();
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
    if (this.state !== 'running') return;
    if (this.rescanIntervalMs > 0) {
      this.rescanTimer = setInterval(() => this.periodic(), this.rescanIntervalMs);
      this.rescanTimer.unref();
    }
    if (this.rescanAgain) {
      this.rescanAgain = false;
      this.schedule();
    }
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      this.state = 'closed';
      if (this.debounceTimer) clearTimeout(this.debounceTimer);
      if (this.retryTimer) clearTimeout(this.retryTimer);
      if (this.rescanTimer) clearInterval(this.rescanTimer);
      this.debounceTimer = null;
      this.retryTimer = null;
      this.rescanTimer = null;
      this.watchers.close();
      // A rescan in flight checks the state before it delivers; wait so that nothing is
      // delivered after close() resolves.
      await this.scanning?.catch(() => undefined);
    })();
    return this.closing;
  }

  // ---- watching and scheduling ------------------------------------------------------

  /** A watch reported `name` in `dir` (null: anything in it): mark it dirty and scan soon. */
  private onWatchEvent(dir: string, name: string | null): void {
    if (this.state !== 'running') return;
    if (this.dirty.size >= MAX_DIRTY_PATHS) this.dirty = new Set(['']);
    if (name === null) this.dirty.add(dir);
    // A name the walk skips (`..data`, a dot-directory) changes manifests only through the
    // symlinks that lead through it: kubelet's AtomicWriter renames a new `..data` symlink
    // over the old one, and the visible files are symlinks `app.yaml -> ..data/app.yaml`. In
    // a directory that holds symlinks such a name marks the whole directory; elsewhere (an
    // editor's swap file) it marks nothing that is read.
    else if (name.startsWith('.') && this.linkDirs.has(dir)) this.dirty.add(dir);
    else this.dirty.add(dir === '' ? name : `${dir}/${name}`);
    this.schedule();
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

  /** The periodic re-scan: at once, not debounced (a timer shorter than the debounce would starve it). */
  private periodic(): void {
    if (this.state !== 'running') return;
    this.periodicDue = true;
    if (this.scanning) this.rescanAgain = true;
    else if (!this.debounceTimer) this.run(); // else a scan is about to run anyway
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
    const periodic = this.periodicDue;
    this.periodicDue = false;
    // Events from here on belong to the next scan.
    const dirty = this.dirty;
    this.dirty = new Set();
    let root: BigIntStats;
    try {
      root = await stat(this.dir, { bigint: true });
      if (!root.isDirectory()) throw Object.assign(new Error('not a directory'), { code: 'ENOTDIR' });
    } catch (err) {
      if (initial) throw new GatehouseError('GH_MANIFEST_UNREADABLE', `manifest directory ${this.dir} cannot be read: ${errorReason(err)}`);
      // Gone or replaced by something else: keep serving what we have, and look again when the
      // parent's watch sees its name come back, or at the retry. Whatever comes back is new:
      // every path in it is dirty.
      this.reportProblems(new Map([['', `manifest directory cannot be read: ${errorReason(err)}`]]));
      this.watchers.closeTree();
      this.dirty.add('');
      this.retryLater();
      return;
    }

    const scan: Scan = { files: new Map(), kept: [], problems: new Map(), linkDirs: new Set(), dirty };
    const rootId = `${root.dev}:${root.ino}`;
    this.watchers.begin();
    await this.walk(this.dir, '', rootId, new Set([rootId]), scan);
    const watchedAll = this.watchers.end();
    this.linkDirs = scan.linkDirs;
    const counts: ReadCounts = { read: 0, parsed: 0 };
    const changed = await this.readChanged(scan, counts);
    if (this.state !== 'running') return;

    // Forget files that are gone, except those under a path we could not look into.
    let forgot = false;
    for (const rel of this.cache.keys()) {
      if (!scan.files.has(rel) && !scan.kept.some((k) => rel === k || rel.startsWith(`${k}/`))) {
        this.cache.delete(rel);
        forgot = true;
      }
    }
    this.reportProblems(scan.problems);
    // An unchanged tree stops here: no merge, no comparison, no delivery. Files that changed only
    // the contents of their objects replace them in place (no merge of every file).
    const inPlace = initial || forgot ? null : this.inPlace(changed);
    const applied = inPlace !== null ? this.deliverInPlace(inPlace) : initial || forgot || changed.size > 0 ? this.deliver(this.merge(changed), initial) : { upserted: 0, removed: 0 };
    if (!initial) this.log.debug({ dir: this.dir, periodic, files: scan.files.size, ...counts, ...applied }, 'manifests scanned');
    if (watchedAll) this.retryDelay = this.retryMs;
    // Without the periodic re-scan, the retry's backoff is what looks again at directories
    // that could not be watched.
    else if (this.rescanIntervalMs === 0) this.retryLater();
  }

  private async walk(abs: string, rel: string, id: string, seen: Set<string>, scan: Scan): Promise<void> {
    // Watch before reading, so that whatever changes after the read is reported.
    this.watchers.add(rel, abs, id, isDirty(scan.dirty, rel));
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
      if (entry.isSymbolicLink()) scan.linkDirs.add(rel);
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
        const childId = `${st.dev}:${st.ino}`;
        if (seen.has(childId)) continue; // a symlink loop, or a second link to a directory already read
        seen.add(childId);
        await this.walk(childAbs, childRel, childId, seen, scan);
      } else if (st.isFile() && isManifest) {
        scan.files.set(childRel, st);
      }
    }
  }

  /**
   * Reads the files that may have changed: stat changed, named by an event, or racily clean.
   * Parses those whose content hash changed, and returns their paths, each with the objects of its
   * version before (none: a new file).
   */
  private async readChanged(scan: Scan, counts: ReadCounts): Promise<Map<string, readonly ManifestObject[] | undefined>> {
    const changed = new Map<string, readonly ManifestObject[] | undefined>();
    for (const [rel, st] of scan.files) {
      const signature = `${st.dev}:${st.ino}:${st.size}:${st.mtimeNs}:${st.ctimeNs}`;
      const cached = this.cache.get(rel);
      if (cached?.signature === signature && !isDirty(scan.dirty, rel) && !racilyClean(st, cached.readAt)) continue;
      counts.read++;
      const file = this.file(rel);
      const readAt = Date.now();
      let bytes: Buffer;
      try {
        if (st.size > BigInt(MAX_FILE_BYTES)) throw new Error(`larger than ${MAX_FILE_BYTES} bytes`);
        bytes = await readFile(path.join(this.dir, rel));
        if (bytes.length > MAX_FILE_BYTES) throw new Error(`larger than ${MAX_FILE_BYTES} bytes`);
      } catch (err) {
        if (isGone(err)) {
          scan.files.delete(rel); // removed between the walk and the read
          continue;
        }
        // Unchanged since it last failed (read again as racily clean or dirty): said already.
        if (cached?.hash === '' && cached.signature === signature) {
          this.cache.set(rel, { ...cached, readAt });
          continue;
        }
        this.unreadable(rel, signature, readAt, '', cached, errorReason(err));
        continue;
      }
      const hash = createHash('sha256').update(bytes).digest('base64');
      if (cached?.hash === hash) {
        // The same bytes (a `touch`, a rewrite with the same content, a racily clean file that
        // did not change): nothing to parse or deliver.
        this.cache.set(rel, { ...cached, signature, readAt });
        continue;
      }
      counts.parsed++;
      const parsed = parseManifests(bytes.toString('utf8'), manifestFormat(rel)!, cached?.documents ?? NO_DOCUMENTS);
      if (!parsed.ok) {
        this.unreadable(rel, signature, readAt, hash, cached, parsed.reason);
        continue;
      }
      for (const p of parsed.invalid) {
        this.log.warn({ code: 'GH_OBJECT_INVALID', file, ...located(p), reason: p.reason }, 'object left out');
      }
      for (const p of parsed.ignored) {
        this.log.debug({ file, ...located(p), reason: p.reason }, 'object of a kind not watched ignored');
      }
      this.cache.set(rel, { signature, readAt, hash, objects: parsed.objects, documents: parsed.documents });
      changed.set(rel, cached?.objects);
    }
    return changed;
  }

  /** A file that does not read or parse keeps its last good objects (it may be half-written). */
  private unreadable(rel: string, signature: string, readAt: number, hash: string, cached: CachedFile | undefined, reason: string): void {
    this.log.warn(
      { code: 'GH_MANIFEST_UNREADABLE', file: this.file(rel), reason, keeping: cached ? cached.objects.length : 0 },
      cached ? 'manifest file unreadable; its last good contents stay in effect' : 'manifest file unreadable',
    );
    this.cache.set(rel, { signature, readAt, hash, objects: cached?.objects ?? [], documents: cached?.documents });
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

  /**
   * The object set across all files: first file in path order wins (GH_OBJECT_DUPLICATE).
   * Objects of files not parsed again keep their identity, so deliver skips them unexamined.
   */
  private merge(changed: ReadonlyMap<string, unknown>): Map<string, { object: KubeObject; file: string }> {
    const next = new Map<string, { object: KubeObject; file: string }>();
    const duplicates = new Set<string>();
    const duplicateKeys = new Set<string>();
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
        duplicateKeys.add(key);
        if (!this.duplicates.has(id) || changed.has(rel) || changed.has(winner.file)) {
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
    this.duplicateKeys = duplicateKeys;
    return next;
  }

  /**
   * The objects of the changed files when each holds the same objects (by key, in the same order)
   * as its version before, and none of them is a duplicate: then each object's winner is as it
   * was (its own file), and merge would change nothing but these objects. Null otherwise.
   */
  private inPlace(changed: ReadonlyMap<string, readonly ManifestObject[] | undefined>): KubeObject[] | null {
    const out: KubeObject[] = [];
    const key = (o: KubeObject) => objectKey(o.kind, o.metadata.namespace, o.metadata.name);
    for (const [rel, before] of changed) {
      const after = this.cache.get(rel)!.objects;
      if (before === undefined || before.length !== after.length) return null;
      for (let i = 0; i < after.length; i++) {
        const k = key(after[i]!.object);
        if (k !== key(before[i]!.object) || this.duplicateKeys.has(k)) return null;
        out.push(after[i]!.object);
      }
    }
    return out;
  }

  /** Delivers the objects inPlace found, each replacing the one delivered under its key. */
  private deliverInPlace(objects: readonly KubeObject[]): { upserted: number; removed: number } {
    let upserted = 0;
    for (const object of objects) if (this.offer(objectKey(object.kind, object.metadata.namespace, object.metadata.name), object)) upserted++;
    if (upserted > 0) this.sink!.synced();
    return { upserted, removed: 0 };
  }

  /** Upserts `object` unless what was delivered under `key` is the same object or the same content; says whether it did. */
  private offer(key: string, object: KubeObject): boolean {
    const prev = this.delivered.get(key);
    if (prev) {
      if (prev.object === object) return false; // from a file not parsed again: unchanged
      // Parsed again: compare by content, so a comment or a reordered key delivers nothing.
      prev.json ??= JSON.stringify(prev.object);
      const json = JSON.stringify(object);
      this.delivered.set(key, { object, json });
      if (prev.json === json) return false;
    } else {
      this.delivered.set(key, { object, json: null });
    }
    this.sink!.upsert(object);
    return true;
  }

  private deliver(next: Map<string, { object: KubeObject }>, initial: boolean): { upserted: number; removed: number } {
    const sink = this.sink!;
    let removed = 0;
    let upserted = 0;
    for (const [key, { object }] of this.delivered) {
      if (next.has(key)) continue;
      this.delivered.delete(key);
      sink.remove(object.kind, object.metadata.namespace, object.metadata.name);
      removed++;
    }
    for (const [key, { object }] of next) if (this.offer(key, object)) upserted++;
    if (initial) this.log.info({ dir: this.dir, files: this.cache.size, objects: this.delivered.size }, 'manifests loaded');
    if (initial || removed + upserted > 0) sink.synced();
    return { upserted, removed };
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

/** Whether `rel` or a directory above it was named by an event ('' is the whole tree). */
function isDirty(dirty: ReadonlySet<string>, rel: string): boolean {
  if (dirty.size === 0) return false;
  if (dirty.has('') || dirty.has(rel)) return true;
  for (let i = rel.indexOf('/'); i !== -1; i = rel.indexOf('/', i + 1)) if (dirty.has(rel.slice(0, i))) return true;
  return false;
}

/** A file changed within RACY_MARGIN_MS of (or after) the time it was read: see RACY_MARGIN_MS. */
function racilyClean(st: BigIntStats, readAt: number): boolean {
  return Number(st.ctimeMs) >= readAt - RACY_MARGIN_MS;
}

function isGone(err: unknown): boolean {
  const code = errorCode(err);
  return code === 'ENOENT' || code === 'ENOTDIR';
}
