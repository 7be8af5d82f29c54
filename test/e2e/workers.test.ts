// The process model end to end: a worker killed under load is replaced while the others keep
// serving; the real CLI drains on SIGTERM and exits 0; bad flags and a busy port stop it at
// start with one clear line.

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { get } from 'node:http';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client } from 'undici';
import WebSocket from 'ws';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startEcho, type Echo } from '../support/echo-upstream.ts';
import { servedBy } from '../support/http-client.ts';
import { backendService, freePort, ingressClass, manifest, reservePort, simpleIngress, startGatehouse, waitFor, type Gatehouse } from '../support/harness.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const MAIN = path.join(ROOT, 'src/main.ts');

describe('a worker killed under load', () => {
  let echo: Echo;
  let gh: Gatehouse;

  beforeAll(async () => {
    echo = await startEcho({ name: 'w' });
    gh = await startGatehouse({ manifests: manifest(ingressClass('gatehouse'), backendService('w', echo.port), simpleIngress('w', 'w.test', 'w')) });
  });

  afterAll(async () => {
    await gh?.close();
    await echo?.close();
  });

  it('is replaced while the other worker keeps serving; a client of the killed one sees at most one error, then succeeds', async () => {
    const CLIENTS = 8;
    const MAX_REQUESTS_PER_CLIENT = 20_000;
    const deadline = Date.now() + 30_000;
    let killed = false;
    let stop = false;
    // Per client, what each request after the kill gave: 'ok', or the error.
    const afterKill: string[][] = Array.from({ length: CLIENTS }, () => []);
    const badStatus: string[] = [];
    const beforeKill: number[] = Array.from({ length: CLIENTS }, () => 0);

    const clients = Array.from({ length: CLIENTS }, () => new Client(gh.origin, { pipelining: 1 }));
    const loops = clients.map(async (client, c) => {
      for (let i = 0; i < MAX_REQUESTS_PER_CLIENT && !stop && Date.now() < deadline; i++) {
        const startedAfterKill = killed;
        let outcome: string;
        try {
          const res = await client.request({ path: `/load/${c}/${i}`, method: 'GET', headers: { host: 'w.test' } });
          await res.body.dump();
          outcome = res.statusCode === 200 ? 'ok' : `status ${res.statusCode}`;
          if (res.statusCode !== 200) badStatus.push(`client ${c} request ${i}: status ${res.statusCode}`);
        } catch (err) {
          const e = err as Error & { code?: string };
          outcome = `error ${e.code ?? ''} ${e.message}`;
        }
        // A request in flight at the kill counts as after it: that is the one that may fail.
        if (startedAfterKill || killed) afterKill[c]!.push(outcome);
        else if (outcome === 'ok') beforeKill[c]!++;
        else badStatus.push(`client ${c} request ${i} before the kill: ${outcome}`);
      }
    });

    try {
      await waitFor('every client to be served before the kill', () => beforeKill.every((n) => n >= 5), 10_000);
      const threadBefore = gh.controller.pool.status()[0]!.threadId;
      killed = true;
      await gh.controller.pool.kill(0);
      // The replica stays ready while the pool replaces the worker (the other one serves), also
      // when /readyz is first asked once the replacement exists but serves nothing yet.
      await waitFor('the replacement thread', () => gh.controller.pool.status()[0]!.restarts === 1);
      expect((await gh.admin('/readyz')).status).toBe(200);

      // Fresh connections right after the kill: only the surviving worker accepts them.
      for (let i = 0; i < 10; i++) {
        const fresh = new Client(gh.origin);
        try {
          const r = await gh.request(`/fresh/${i}`, { host: 'w.test' }, fresh);
          expect(r.status).toBe(200);
          expect(servedBy(r)).toBe('w');
        } finally {
          await fresh.close();
        }
      }

      // The pool replaces worker 0 and hands it the current generation.
      await waitFor('worker 0 to be replaced and serve the current generation', () => {
        const s = gh.controller.pool.status()[0]!;
        return s.restarts === 1 && s.threadId !== threadBefore && gh.controller.pool.current();
      });
      const status = gh.controller.pool.status();
      expect(status.map((s) => s.restarts)).toEqual([1, 0]);
      expect(status.map((s) => s.generation)).toEqual([gh.served().generation, gh.served().generation]);
      const ready = await gh.admin('/readyz');
      expect(ready.status).toBe(200);

      // Let every client get a few more answers after the replacement.
      const counts = afterKill.map((l) => l.length);
      await waitFor('every client to be served after the replacement', () => afterKill.every((l, c) => l.length >= counts[c]! + 5), 10_000);
    } finally {
      stop = true;
      await Promise.all(loops);
      await Promise.all(clients.map((c) => c.close()));
    }

    expect(badStatus).toEqual([]);
    for (const [c, outcomes] of afterKill.entries()) {
      const errors = outcomes.filter((o) => o !== 'ok');
      expect(errors.length, `client ${c}: ${errors.join('; ')}`).toBeLessThanOrEqual(1);
      // Whatever happened at the kill, the client reconnected and kept being served.
      expect(outcomes.slice(-5), `client ${c}`).toEqual(['ok', 'ok', 'ok', 'ok', 'ok']);
    }
  });
});

// ---- the real CLI as a child process ------------------------------------------------------

interface Run {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const children = new Set<ChildProcess>();

function cli(args: string[]): Run {
  const child = spawn(process.execPath, [MAIN, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  let out = '';
  let err = '';
  child.stdout!.on('data', (c: Buffer) => (out += String(c)));
  child.stderr!.on('data', (c: Buffer) => (err += String(c)));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => {
      children.delete(child);
      resolve({ code, signal });
    }),
  );
  return { child, stdout: () => out, stderr: () => err, exited };
}

function within<T>(what: string, p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([p, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms)))]).finally(() =>
    clearTimeout(timer),
  );
}

/** One GET on a fresh connection: the status, or the connection error's code. */
function probe(port: number, pathname: string, host = '127.0.0.1'): Promise<number | string> {
  return new Promise((resolve) => {
    const req = get({ host: '127.0.0.1', port, path: pathname, headers: { host }, agent: false, timeout: 2000 }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
      res.on('error', () => resolve('ERESPONSE'));
    });
    req.on('timeout', () => req.destroy(Object.assign(new Error('timeout'), { code: 'ETIMEDOUT' })));
    req.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
  });
}

describe('the CLI', () => {
  let dir: string;
  let echo: Echo;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'gatehouse-cli-'));
    echo = await startEcho({ name: 'slow' });
    await writeFile(path.join(dir, 'all.yaml'), manifest(ingressClass('gatehouse'), backendService('slow', echo.port), simpleIngress('slow', 'slow.test', 'slow')));
  });

  afterEach(() => {
    for (const child of children) child.kill('SIGKILL');
  });

  afterAll(async () => {
    await echo?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  /** The CLI on the manifests of this suite, 2 workers, once /readyz says 200. */
  async function readyCli(gracePeriod: string, shutdownDelay = '0'): Promise<{ run: Run; httpPort: number; statusPort: number }> {
    const reserved = await reservePort();
    const reservedHttps = await reservePort();
    const httpPort = reserved.port;
    const statusPort = await freePort();
    const run = cli([
      '--manifests', dir, '--http-port', String(httpPort), '--https-port', String(reservedHttps.port), '--status-port', String(statusPort),
      '--bind-address', '127.0.0.1', '--workers', '2', '--shutdown-grace-period', gracePeriod, '--shutdown-delay', shutdownDelay,
    ]);
    await waitFor('the CLI to become ready', async () => (await probe(statusPort, '/readyz')) === 200, 20_000, 50).catch((err: Error) => {
      throw new Error(`${err.message}\nstdout: ${run.stdout()}\nstderr: ${run.stderr()}`);
    }).finally(() => Promise.all([reserved.release(), reservedHttps.release()]));
    return { run, httpPort, statusPort };
  }

  it('drains on SIGTERM: the slow request completes, new connections are refused, /readyz says 503, exit 0', async () => {
    // The grace period never cuts the slow request short: the upstream holds it until the test
    // has seen the drain, then answers; the CLI exits as soon as it is done.
    const { run, httpPort, statusPort } = await readyCli('20');
    expect(await probe(httpPort, '/', 'slow.test')).toBe(200);

    const slow = new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = get({ host: '127.0.0.1', port: httpPort, path: '/__hold', headers: { host: 'slow.test' }, agent: false }, (res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += String(c)));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        res.on('error', reject);
      });
      req.on('error', reject);
    });
    slow.catch(() => undefined);
    await waitFor('the slow request to reach the upstream', () => echo.received.some((r) => r.url === '/__hold'));

    run.child.kill('SIGTERM');

    // While the slow request is still in flight: readiness goes 503 and the HTTP port closes.
    const readyz: (number | string)[] = [];
    await waitFor('/readyz to answer 503 (or the status port to close)', async () => {
      const r = await probe(statusPort, '/readyz');
      readyz.push(r);
      return r === 503 || r === 'ECONNREFUSED';
    }, 10_000, 20);
    expect(readyz).not.toContain(500);
    await waitFor('new connections to be refused', async () => (await probe(httpPort, '/', 'slow.test')) === 'ECONNREFUSED', 10_000, 20);
    expect(echo.received.find((r) => r.url === '/__hold')?.finished).toBe(false);
    expect(echo.release()).toBe(1);

    const answer = await within('the slow request to complete', slow, 10_000);
    expect(answer.status).toBe(200);
    expect((JSON.parse(answer.body) as { name: string }).name).toBe('slow');

    const exit = await within('the CLI to exit', run.exited, 10_000);
    expect(exit, `stderr: ${run.stderr()}`).toEqual({ code: 0, signal: null });
    expect(readyz.at(-1)).toBe(503);
  });

  it('on SIGTERM says 503 on /readyz at once and keeps serving new connections for --shutdown-delay, then drains and exits 0', async () => {
    const { run, httpPort, statusPort } = await readyCli('5', '3');
    const signalled = Date.now();
    run.child.kill('SIGTERM');
    await waitFor('/readyz to answer 503', async () => (await probe(statusPort, '/readyz')) === 503, 10_000, 20);
    // Unready but serving: a load balancer that has not caught up yet loses nothing.
    const during = await probe(httpPort, '/', 'slow.test');
    const servedAt = Date.now();
    await waitFor('new connections to be refused', async () => (await probe(httpPort, '/', 'slow.test')) === 'ECONNREFUSED', 15_000, 20);
    const refusedAt = Date.now();
    if (servedAt - signalled < 2_500) expect(during).toBe(200);
    expect(refusedAt - signalled).toBeGreaterThanOrEqual(2_900);
    const exit = await within('the CLI to exit', run.exited, 15_000);
    expect(exit, `stderr: ${run.stderr()}`).toEqual({ code: 0, signal: null });
  });

  it('keeps an open WebSocket through the drain until the grace period ends, then exits 0', async () => {
    const { run, httpPort, statusPort } = await readyCli('2');

    const ws = new WebSocket(`ws://127.0.0.1:${httpPort}/chat`, { headers: { host: 'slow.test' } });
    const messages: string[] = [];
    ws.on('message', (m: Buffer) => messages.push(String(m)));
    const closed = new Promise<void>((resolve) => ws.once('close', () => resolve()));
    await new Promise<void>((resolve, reject) => ws.once('open', resolve).once('error', reject));

    const signalled = Date.now();
    run.child.kill('SIGTERM');
    // Draining once /readyz says so: a message sent now crosses the draining proxy.
    await waitFor('the drain to begin (/readyz 503, or the status port closed)', async () => {
      const r = await probe(statusPort, '/readyz');
      return r === 503 || r === 'ECONNREFUSED';
    }, 10_000, 20);
    ws.send('still here');
    await waitFor('the echo through the draining proxy', () => messages.includes('slow:still here'), 10_000);

    await within('the WebSocket to be closed at the deadline', closed, 10_000);
    expect(Date.now() - signalled).toBeGreaterThanOrEqual(1_500);
    const exit = await within('the CLI to exit', run.exited, 10_000);
    expect(exit, `stderr: ${run.stderr()}`).toEqual({ code: 0, signal: null });
  });

  it('prints the version of package.json for --version and exits 0', async () => {
    const { version } = JSON.parse(await readFile(path.join(ROOT, 'package.json'), 'utf8')) as { version: string };
    const run = cli(['--version']);
    const exit = await within('the CLI to exit', run.exited, 10_000);
    expect(exit).toEqual({ code: 0, signal: null });
    expect(run.stdout()).toBe(`gatehouse ${version}\n`);
  });

  it('exits non-zero with one line on stderr naming a bad flag', async () => {
    const unknown = cli(['--manifests', dir, '--no-such-flag', '1']);
    const exit = await within('the CLI to exit', unknown.exited, 10_000);
    expect(exit.code).not.toBe(0);
    const lines = unknown.stderr().trimEnd().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain('--no-such-flag');

    const badValue = cli(['--manifests', dir, '--http-port', '99999']);
    const exit2 = await within('the CLI to exit', badValue.exited, 10_000);
    expect(exit2.code).not.toBe(0);
    const lines2 = badValue.stderr().trimEnd().split('\n');
    expect(lines2).toHaveLength(1);
    expect(lines2[0]).toContain('--http-port');
    expect(lines2[0]).toContain('99999');
  });

  it('exits non-zero with a clear message when --http-port is already in use', async () => {
    const blocker: Server = createServer();
    await new Promise<void>((resolve) => blocker.listen({ port: 0, host: '127.0.0.1' }, resolve));
    const busy = (blocker.address() as { port: number }).port;
    try {
      const statusPort = await freePort();
      const run = cli(['--manifests', dir, '--http-port', String(busy), '--https-port', String(await freePort()), '--status-port', String(statusPort), '--bind-address', '127.0.0.1', '--workers', '2', '--log-level', 'silent']);
      const exit = await within('the CLI to exit', run.exited, 15_000);
      expect(exit.code).not.toBe(0);
      expect(exit.code).not.toBeNull();
      const stderr = run.stderr();
      expect(stderr).toContain(`127.0.0.1:${busy}`);
      expect(stderr).toMatch(/EADDRINUSE|in use/);
      expect(stderr).not.toMatch(/\n\s+at /); // no stack trace
    } finally {
      await new Promise<void>((resolve) => blocker.close(() => resolve()));
    }
  });
});
