// What keeps an idle Gatehouse small. The `gatehouse` command (src/gatehouse.js) runs behind
// Node's compile cache: the workers use it too (they do not inherit an enabled cache, only
// NODE_COMPILE_CACHE), a cache the image build warmed (deploy/warm-compile-cache.js) serves the
// very first start, and a directory that cannot be created costs one log line, not the start.
// Node's own debug output (NODE_DEBUG_NATIVE) says which cache entry each thread read; only a
// worker loads dataplane/worker.ts. Every thread gives back the memory of loading once (src/heap.ts).
// And the main thread loads none of the data plane's modules.

import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { get } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { freePort, waitFor } from '../support/harness.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const COMMAND = path.join(ROOT, 'src/gatehouse.js');
const DEMO = path.join(ROOT, 'examples/local');
/** The Node flags of the command's shebang (`#!/usr/bin/env -S node FLAGS`), as the image runs it. */
const SHEBANG_FLAGS = readFileSync(COMMAND, 'utf8').split('\n', 1)[0]!.replace(/^#!\/usr\/bin\/env -S node ?/, '').split(' ').filter(Boolean);
/** Node's debug line for a module whose stripped TypeScript came from the cache. */
const hit = (module: string) => new RegExp(`retrieving transpile cache for StrippedTypeScript \\S*${module.replace(/[./]/g, '\\$&')}\\.\\.\\.success`);

const children = new Set<ChildProcess>();
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'gatehouse-compile-cache-'));
});

afterEach(() => {
  for (const child of children) child.kill('SIGKILL');
});

afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

function status(port: number): Promise<number> {
  return new Promise((resolve) => {
    const req = get({ host: '127.0.0.1', port, path: '/readyz', agent: false, timeout: 2000 }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(0));
  });
}

/** `node [execArgv] script args` with `env` over a copy of this environment without NODE_COMPILE_CACHE. */
function node(script: string, args: readonly string[], env: NodeJS.ProcessEnv, execArgv: readonly string[] = []): { child: ChildProcess; output: () => string; exited: Promise<number | null> } {
  const { NODE_COMPILE_CACHE: _ignored, ...base } = process.env;
  const child = spawn(process.execPath, [...execArgv, script, ...args], { cwd: ROOT, env: { ...base, NODE_DEBUG_NATIVE: 'COMPILE_CACHE', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  let out = '';
  child.stdout!.on('data', (c: Buffer) => (out += String(c)));
  child.stderr!.on('data', (c: Buffer) => (out += String(c)));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => (children.delete(child), resolve(code))));
  return { child, output: () => out, exited };
}

/** The command on the demo manifests with one worker (unless `args` say otherwise), until ready; then Ctrl-C, and its output once it exited. */
async function serveOnce(env: NodeJS.ProcessEnv, execArgv: readonly string[] = [], args: readonly string[] = []): Promise<string> {
  const [http, https, admin] = [await freePort(), await freePort(), await freePort()];
  const run = node(COMMAND, ['--manifests', DEMO, '--workers', '1', '--bind-address', '127.0.0.1', '--http-port', String(http), '--https-port', String(https), '--status-port', String(admin), ...args], env, execArgv);
  await waitFor('gatehouse to become ready', async () => (await status(admin)) === 200, 30_000, 50).catch((err: Error) => {
    throw new Error(`${err.message}\n${run.output()}`);
  });
  run.child.kill('SIGINT');
  expect(await run.exited, run.output()).toBe(0);
  return run.output();
}

describe('the gatehouse command', () => {
  it('keeps a compile cache in the user cache directory, and its workers read it on the next start', async () => {
    const env = { XDG_CACHE_HOME: path.join(dir, 'user-cache') };
    const first = await serveOnce(env);
    expect(first).not.toMatch(hit('src/dataplane/worker.ts'));
    const second = await serveOnce(env);
    expect(second).toMatch(hit('src/main.ts'));
    expect(second).toMatch(hit('src/dataplane/worker.ts'));
  }, 90_000);

  it('starts warm from a cache filled by deploy/warm-compile-cache.js, which runs none of the modules', async () => {
    const cache = path.join(dir, 'image-cache');
    const warm = node(path.join(ROOT, 'deploy/warm-compile-cache.js'), [], { NODE_COMPILE_CACHE: cache });
    expect(await warm.exited, warm.output()).toBe(0);
    expect(warm.output()).toMatch(/warm-compile-cache: \d+ modules compiled into /);
    const first = await serveOnce({ NODE_COMPILE_CACHE: cache });
    expect(first).toMatch(hit('src/main.ts'));
    expect(first).toMatch(hit('src/dataplane/worker.ts'));
  }, 90_000);

  it('serves when the cache directory cannot be created, and says so in one log line', async () => {
    const notADirectory = path.join(dir, 'a-file');
    await writeFile(notADirectory, '');
    const output = await serveOnce({ XDG_CACHE_HOME: notADirectory, NODE_DEBUG_NATIVE: '' });
    expect(output.split('\n').filter((l) => l.includes('compile cache unavailable'))).toHaveLength(1);
  }, 90_000);
});

describe('every thread', () => {
  it('gives back the memory of loading once, under the shebang\'s flags (src/heap.ts): each worker before it listens, the main thread once they all serve', async () => {
    expect(SHEBANG_FLAGS).toContain('--expose-gc');
    const output = await serveOnce({ XDG_CACHE_HOME: path.join(dir, 'user-cache'), NODE_DEBUG_NATIVE: '' }, SHEBANG_FLAGS, ['--workers', '2', '--log-level', 'debug']);
    const lines = output.split('\n').filter((l) => l.includes('heap compacted after loading')).map((l) => JSON.parse(l) as { worker?: number; time: string });
    expect(lines.map((l) => l.worker ?? 'main').sort(), output).toEqual([0, 1, 'main']);
    // The main thread's comes last: after every worker acked, hence after theirs (each thread writes its own lines: by their times).
    const at = (l: { time: string }) => Date.parse(l.time);
    const main = lines.find((l) => l.worker === undefined)!;
    for (const l of lines) expect(at(l), output).toBeLessThanOrEqual(at(main));
    expect(output).not.toMatch(/"level":(50|60)/);
  }, 90_000);
});

describe('the main thread', () => {
  it('loads none of the data plane, X.509, Kubernetes or ACME modules in local mode (they load where used); nor Node\'s bundled undici', async () => {
    // A preload that records every module the main thread loads (module.registerHooks is per thread).
    const hook = path.join(dir, 'record-modules.mjs');
    await writeFile(hook, [
      "import { registerHooks } from 'node:module';",
      "import { isMainThread } from 'node:worker_threads';",
      "import { writeSync } from 'node:fs';",
      'const seen = [];',
      'if (isMainThread) {',
      '  registerHooks({ load(url, context, next) { seen.push(url); return next(url, context); } });',
      "  process.on('exit', () => process.stderr.write(`MAIN-THREAD-MODULES ${JSON.stringify(seen)}\\n`));",
      '}',
      // Node's bundled undici is internal (no load hook sees it): its name in moduleLoadList. Workers
      // are stopped without an exit event; the lint rule (eslint.config.js) covers their imports.
      "process.on('exit', () => isMainThread && writeSync(2, `NODE-UNDICI main ${process.moduleLoadList.some((m) => m.includes('internal/deps/undici'))}\\n`));",
      '',
    ].join('\n'));
    const output = await serveOnce({ XDG_CACHE_HOME: path.join(dir, 'user-cache'), NODE_DEBUG_NATIVE: '' }, ['--import', pathToFileURL(hook).href]);
    const line = output.split('\n').find((l) => l.startsWith('MAIN-THREAD-MODULES '));
    expect(line, output).toBeDefined();
    const modules = (JSON.parse(line!.slice('MAIN-THREAD-MODULES '.length)) as string[]).map((u) => u.replace(pathToFileURL(ROOT).href, ''));
    expect(modules).toContain('src/control/controller.ts');
    const unwanted = /node_modules\/(undici|@peculiar|find-my-way|http-proxy-3|@kubernetes|acme-client)\/|src\/dataplane\/(proxy\/proxy|router\/router|worker)\.ts|src\/observability\/explain\.ts/;
    expect(modules.filter((m) => unwanted.test(m))).toEqual([]);
    // An ES import of node:http loads it (eslint.config.js).
    expect(output.split('\n').filter((l) => l.startsWith('NODE-UNDICI '))).toEqual(['NODE-UNDICI main false']);
  }, 90_000);
});
