// One non-recursive fs.watch per directory of the manifest tree, plus one on the tree's parent
// filtered to the root's own name. Node's recursive watch on Linux follows each file's inode,
// so once a file is replaced by rename (editors, `mv`, ConfigMap volumes) its name is no
// longer reported (DESIGN.md, "Runtime and dependencies"); a watch on a directory sees every
// create, delete, write and rename in it, whatever the inode behind a name.
//
// What Node 24 reports on Linux (libuv's inotify backend; checked here):
// - a write in place: 'change' <name>; a create, delete, or rename in or out: 'rename' <name>.
// - the watched directory itself moved, deleted or chmod'ed (IN_MOVE_SELF, IN_DELETE_SELF,
//   IN_ATTRIB): 'rename' with the directory's own base name, never an 'error'. The watch stays
//   on the old inode: a moved directory goes on reporting from its new place, a deleted one
//   goes silent. So a directory is watched afresh when an event names it (in its parent, or
//   itself), and when the inode under its path changes.
// - the parent's watch reports the root's name when the root is renamed away, renamed in,
//   created or deleted (`mv root root.old; mv root.new root`).
//
// Directories reached through symlinks are watched through their symlink path (inotify
// follows it), under the relative path the walk reached them at.

import { watch as fsWatch } from 'node:fs';
import type { FSWatcher } from 'node:fs';
import path from 'node:path';
import { errorCode, errorReason } from '../../errors.ts';
import type { Log } from '../source.ts';

/** `fs.watch(dir, listener)`; tests pass their own to inject failures such as ENOSPC. */
export type WatchFunction = (dir: string, listener: (event: string, name: string | null) => void) => FSWatcher;

export interface DirectoryWatchersOptions {
  /** The manifest directory, as given. */
  readonly root: string;
  /** At most this many directories are watched; the rest are left to the periodic re-scan. */
  readonly max: number;
  readonly log: Log;
  readonly watch?: WatchFunction;
  /** Something changed in directory `dir` (relative, '' for the root): entry `name`, or anything (null). */
  readonly onEvent: (dir: string, name: string | null) => void;
  /** A watcher broke after it started; it is closed and will be replaced on the next pass. */
  readonly onFailure: () => void;
}

interface Watched {
  /** dev:ino of the directory when the watch was set. */
  readonly id: string;
  readonly watcher: FSWatcher;
}

/** Codes that mean "not there any more" or "not allowed": the walk reports those itself. */
const NOT_WATCHABLE = new Set(['ENOENT', 'ENOTDIR', 'EACCES', 'EPERM']);

export class DirectoryWatchers {
  private readonly root: string;
  private readonly max: number;
  private readonly log: Log;
  private readonly watchFn: WatchFunction;
  private readonly onEvent: (dir: string, name: string | null) => void;
  private readonly onFailure: () => void;

  private readonly tree = new Map<string, Watched>();
  private parent: FSWatcher | null = null;
  private closed = false;

  private reached = new Set<string>();
  /** The first directory of this pass that should have been watched and is not, and why. */
  private unwatched: { dir: string; reason: string } | null = null;
  private unwatchedCount = 0;
  /** Whether "cannot watch" was logged and not yet followed by "watching every directory again". */
  private degraded = false;

  constructor(options: DirectoryWatchersOptions) {
    this.root = options.root;
    this.max = Math.max(1, options.max);
    this.log = options.log;
    this.watchFn = options.watch ?? ((dir, listener) => fsWatch(dir, listener));
    this.onEvent = options.onEvent;
    this.onFailure = options.onFailure;
  }

  /**
   * Watches the root's parent for the root's own name, so that a root replaced by rename, or
   * deleted and created again, is seen at once. Optional: without it (the root is `/`, or the
   * parent is not readable) the root's own watch still reports it moving away, and the retry
   * finds it back.
   */
  watchParent(): void {
    if (this.closed || this.parent) return;
    const abs = path.resolve(this.root);
    const parent = path.dirname(abs);
    if (parent === abs) return;
    const base = path.basename(abs);
    try {
      const w = this.watchFn(parent, (_event, name) => {
        if (this.parent === w && (name === null || name === base)) this.onEvent('', null);
      });
      w.on('error', (err) => {
        this.log.debug({ dir: parent, err: errorReason(err) }, "watch on the manifest directory's parent failed");
        if (this.parent === w) this.parent = null;
        closeQuietly(w);
      });
      this.parent = w;
    } catch (err) {
      this.log.debug({ dir: parent, err: errorReason(err) }, "cannot watch the manifest directory's parent; a replaced root is found by the retry");
    }
  }

  /** Starts a pass over the tree: `add` each directory reached, then `end`. */
  begin(): void {
    this.reached = new Set();
    this.unwatched = null;
    this.unwatchedCount = 0;
  }

  /**
   * Watches directory `rel` (reached at `abs`, identity `id` = dev:ino) unless it already is.
   * Call it before reading the directory, so that a change made after the read is reported.
   * `fresh`: an event named it, so it may have been deleted and made again with the same inode
   * number, under a watch that went silent; watch it again.
   */
  add(rel: string, abs: string, id: string, fresh: boolean): void {
    if (this.closed) return;
    this.reached.add(rel);
    const old = this.tree.get(rel);
    if (old && old.id === id && !fresh) return;
    if (!old && this.tree.size >= this.max) {
      this.missed(rel, `the limit of ${this.max} watched directories`);
      return;
    }
    let watcher: FSWatcher;
    try {
      watcher = this.start(rel, abs);
    } catch (err) {
      if (old) this.drop(rel, old);
      const code = errorCode(err);
      // Gone or unreadable: the walk skips or reports it, and its parent's watch tells when that changes.
      if (code !== undefined && NOT_WATCHABLE.has(code)) this.log.debug({ dir: abs, err: errorReason(err) }, 'directory not watched');
      else this.missed(rel, errorReason(err)); // ENOSPC (fs.inotify.max_user_watches), EMFILE, ...
      return;
    }
    this.tree.set(rel, { id, watcher });
    // The new watch is in place before the old one goes: on the same inode both share one
    // inotify watch, so there is no moment without one.
    if (old) closeQuietly(old.watcher);
  }

  /**
   * Ends a pass: closes the watches of directories it did not reach. Returns whether every
   * directory reached is watched; logs once when that stops being so, and once when it is so again.
   */
  end(): boolean {
    if (this.closed) return true;
    for (const [rel, w] of this.tree) if (!this.reached.has(rel)) this.drop(rel, w);
    if (this.unwatched) {
      if (!this.degraded) {
        this.degraded = true;
        this.log.warn(
          { dir: this.file(this.unwatched.dir), reason: this.unwatched.reason, unwatched: this.unwatchedCount, watched: this.tree.size },
          'cannot watch every manifest directory; changes in the others wait for the periodic re-scan (or, with it off, the retry)',
        );
      }
      return false;
    }
    if (this.degraded) {
      this.degraded = false;
      this.log.info({ dir: this.root, watched: this.tree.size }, 'watching every manifest directory again');
    }
    return true;
  }

  /** Closes the watches of the tree (the root is gone or replaced); the parent's watch stays. */
  closeTree(): void {
    for (const [rel, w] of this.tree) this.drop(rel, w);
  }

  /** Closes everything. Safe to call twice. */
  close(): void {
    this.closed = true;
    this.closeTree();
    const p = this.parent;
    this.parent = null;
    if (p) closeQuietly(p);
  }

  private start(rel: string, abs: string): FSWatcher {
    const own = path.basename(path.resolve(abs));
    const w = this.watchFn(abs, (_event, name) => {
      if (this.tree.get(rel)?.watcher !== w) return; // replaced or closed
      // The directory's own name is how a self event (moved, deleted, chmod'ed) is reported; a
      // child of the same name is possible too. Either way the whole directory is suspect.
      this.onEvent(rel, name === null || name === own ? null : name);
    });
    w.on('error', (err) => {
      this.log.error({ dir: abs, err: errorReason(err) }, 'manifest directory watch failed; watching it again');
      const cur = this.tree.get(rel);
      if (cur?.watcher === w) this.drop(rel, cur);
      else closeQuietly(w);
      this.onFailure();
    });
    return w;
  }

  private drop(rel: string, w: Watched): void {
    this.tree.delete(rel);
    closeQuietly(w.watcher);
  }

  private missed(rel: string, reason: string): void {
    this.unwatched ??= { dir: rel, reason };
    this.unwatchedCount++;
  }

  private file(rel: string): string {
    return path.join(this.root, rel);
  }
}

function closeQuietly(w: FSWatcher): void {
  try {
    w.close();
  } catch {
    // already closed
  }
}
