import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compactHeap } from './heap.ts';

const HEAP = JSON.stringify(new URL('./heap.ts', import.meta.url).href);
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'gatehouse-heap-'));
});

afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** Runs `script` (an ES module in a file of its own) in `node [flags]`: its standard output. */
async function node(flags: readonly string[], name: string, script: string): Promise<string> {
  const file = path.join(dir, name);
  await writeFile(file, script);
  const { stdout } = await promisify(execFile)(process.execPath, [...flags, file], { timeout: 30_000 });
  return stdout.trim();
}

describe('compactHeap', () => {
  it('gives back the heap that garbage grew, with --expose-gc, in a worker too (the flag is the process\'s)', async () => {
    const script = [
      "import { getHeapStatistics } from 'node:v8';",
      "import { Worker, isMainThread, parentPort } from 'node:worker_threads';",
      `const { compactHeap } = await import(${HEAP});`,
      // ~64 MB of objects held, then dropped: the heap grows to hold them.
      'const grow = () => {',
      '  const held = Array.from({ length: 1024 }, (_, i) => Array.from({ length: 8192 }, (_, j) => i + j + 0.5));',
      '  return held.length > 0 ? getHeapStatistics().total_heap_size : 0;',
      '};',
      'const grown = grow();',
      'const ms = compactHeap();',
      "const answer = `${typeof ms} ${getHeapStatistics().total_heap_size < grown - 32 * 1024 * 1024}`;",
      "if (isMainThread) new Worker(new URL(import.meta.url)).once('message', (m) => console.log(answer, m));",
      'else parentPort.postMessage(answer);',
      '',
    ].join('\n');
    expect(await node(['--expose-gc'], 'grow.mjs', script)).toBe('number true number true');
  });

  it('after changes, compacts once they paused for the quiet time, and again only after another change', async () => {
    const script = [
      `const { compactAfterChanges } = await import(${HEAP});`,
      'const lines = [];',
      'const log = { debug: (fields, msg) => lines.push({ at: Date.now(), msg }) };',
      'const pool = { applies: 0, lastApply: 0 };',
      'const timer = compactAfterChanges(pool, log, 200);',
      'const until = async (done) => { for (let i = 0; i < 500 && !done(); i++) await new Promise((r) => setTimeout(r, 20)); };',
      // Nothing applied since it started: nothing to give back.
      'await new Promise((r) => setTimeout(r, 500));',
      'const before = lines.length;',
      'const applied = Date.now();',
      'pool.applies = 1; pool.lastApply = applied;',
      'await until(() => lines.length > 0);',
      'const first = lines[0];',
      // No new change: no second one.
      'await new Promise((r) => setTimeout(r, 500));',
      'const still = lines.length;',
      'pool.applies = 2; pool.lastApply = Date.now();',
      'await until(() => lines.length > 1);',
      'clearInterval(timer);',
      'console.log(JSON.stringify({ before, msg: first.msg, quiet: first.at - applied >= 200, still, after: lines.length }));',
      '',
    ].join('\n');
    const out = JSON.parse(await node(['--expose-gc'], 'changes.mjs', script)) as Record<string, unknown>;
    expect(out).toEqual({ before: 0, msg: 'heap compacted after changes', quiet: true, still: 1, after: 2 });
  });

  it('does nothing without --expose-gc', async () => {
    expect(compactHeap()).toBeNull();
    expect(await node([], 'none.mjs', `const { compactHeap } = await import(${HEAP});\nconsole.log(compactHeap());\n`)).toBe('null');
  });
});
