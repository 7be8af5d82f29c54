// Child processes for the servers under test: each gets its own process (its own event loop,
// heap and GC, and a PID whose CPU time /proc can report), is stopped by that PID only, and
// keeps its recent output so a failure can show why.
//
// A server started with `listenAndAnnounce` prints `LOADTEST_LISTENING <port>` once it
// listens on 127.0.0.1; `startServerChild` waits for that line.

import { spawn, type ChildProcess } from 'node:child_process';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { cpuDelta, reapedChildrenCpuTime, type CpuTime } from './cpu.ts';

const ANNOUNCE = 'LOADTEST_LISTENING ';
const KEEP_OUTPUT = 16 * 1024;

export interface Child {
  readonly name: string;
  readonly pid: number;
  /** The last 16 KiB of its stdout and stderr, interleaved. */
  output(): string;
  /** Resolves with the exit code (or signal name) when it exits. */
  readonly exited: Promise<number | string>;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves once it exited. Safe to call twice. */
  stop(graceMs?: number): Promise<void>;
}

export interface ChildOptions {
  /** Node flags before the script, e.g. ['--cpu-prof', '--cpu-prof-dir', dir]. */
  execArgv?: string[];
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

/** Starts `node [execArgv] script [args]` with the same Node binary as this process. */
export function startChild(name: string, script: string, args: readonly string[], options: ChildOptions = {}): Child {
  return startProcess(name, process.execPath, [...(options.execArgv ?? []), script, ...args], options);
}

/** Starts any executable (e.g. /usr/sbin/nginx) as a Child: output kept, stopped by its PID. */
export function startProcess(name: string, command: string, args: readonly string[], options: Omit<ChildOptions, 'execArgv'> = {}): Child {
  const proc: ChildProcess = spawn(command, args, {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: options.env ?? process.env,
    cwd: options.cwd,
  });
  if (proc.pid === undefined) throw new Error(`${name}: could not start ${command}`);
  let out = '';
  const keep = (d: string) => {
    out += d;
    if (out.length > KEEP_OUTPUT) out = out.slice(-KEEP_OUTPUT);
  };
  proc.stdout!.setEncoding('utf8').on('data', keep);
  proc.stderr!.setEncoding('utf8').on('data', keep);
  const exited = new Promise<number | string>((resolve) => proc.once('exit', (code, signal) => resolve(code ?? signal ?? 'unknown')));
  let stopping: Promise<void> | null = null;
  const pid = proc.pid;
  return {
    name,
    pid,
    output: () => out,
    exited,
    stop: (graceMs = 5000) =>
      (stopping ??= (async () => {
        if (proc.exitCode !== null || proc.signalCode !== null) return;
        process.kill(pid, 'SIGTERM');
        let timer: NodeJS.Timeout | undefined;
        const killed = new Promise<void>((resolve) => {
          timer = setTimeout(() => {
            if (proc.exitCode === null && proc.signalCode === null) process.kill(pid, 'SIGKILL');
            resolve();
          }, graceMs);
        });
        await Promise.race([exited, killed]);
        clearTimeout(timer);
        await exited;
      })()),
  };
}

/** Rejects with the child's output if it exits, or stays silent for `timeoutMs`, before `ready` resolves. */
export async function untilReady<T>(child: Child, ready: Promise<T>, timeoutMs: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${child.name} (pid ${child.pid}): not ${what} after ${timeoutMs} ms; output:\n${child.output()}`)), timeoutMs);
  });
  const died = child.exited.then((code) => {
    throw new Error(`${child.name} (pid ${child.pid}) exited (${code}) before it was ${what}; output:\n${child.output()}`);
  });
  try {
    return await Promise.race([ready, timeout, died]);
  } finally {
    clearTimeout(timer);
  }
}

/** Starts a child that announces its port (see `listenAndAnnounce`) and waits for it. */
export async function startServerChild(name: string, script: string, args: readonly string[], options: ChildOptions = {}): Promise<{ child: Child; port: number }> {
  const child = startChild(name, script, args, options);
  const port = new Promise<number>((resolve) => {
    const check = setInterval(() => {
      const m = new RegExp(`${ANNOUNCE}(\\d+)`).exec(child.output());
      if (m) {
        clearInterval(check);
        resolve(Number(m[1]));
      }
    }, 20);
    void child.exited.then(() => clearInterval(check));
  });
  try {
    return { child, port: await untilReady(child, port, 10_000, 'listening') };
  } catch (err) {
    await child.stop();
    throw err;
  }
}

/** In a server child: listen on 127.0.0.1 (an ephemeral port by default) and announce the port. */
export function listenAndAnnounce(server: Server, port = 0): void {
  server.listen({ port, host: '127.0.0.1', backlog: 1024 }, () => {
    process.stdout.write(`${ANNOUNCE}${(server.address() as AddressInfo).port}\n`);
  });
  // Stop on SIGTERM/SIGINT without draining: the runner stops servers only after the load ended.
  const exit = () => process.exit(0);
  process.once('SIGTERM', exit);
  process.once('SIGINT', exit);
}

/** Stops every child, each by its own PID, in parallel. */
export async function stopAll(children: readonly (Child | undefined)[]): Promise<void> {
  await Promise.allSettled(children.filter((c): c is Child => c !== undefined).map((c) => c.stop()));
}

/**
 * Runs a load generator (wrk, h2load) to its end: its stdout and stderr, and the CPU time it
 * used (read from our reaped children's, so only while no other child exits meanwhile). Rejects
 * if it fails to start, exits non-zero, or still runs `durationS` + 15 s later (then SIGKILLed).
 */
export function runTool(command: string, args: readonly string[], durationS: number): Promise<{ stdout: string; stderr: string; cpu: CpuTime | null }> {
  return new Promise((resolve, reject) => {
    const before = reapedChildrenCpuTime();
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const killer = setTimeout(() => child.kill('SIGKILL'), (durationS + 15) * 1000);
    child.once('error', (err) => {
      clearTimeout(killer);
      reject(err);
    });
    child.once('close', (code, signal) => {
      clearTimeout(killer);
      if (code !== 0) return reject(new Error(`${command} exited with ${code ?? signal}${signal === 'SIGKILL' ? ` (killed: still running 15 s after its ${durationS} s)` : ''}:\n${stderr}${stdout}`));
      // Once reaped, its CPU time is in our own cutime/cstime (the servers are still running).
      resolve({ stdout, stderr, cpu: cpuDelta(before, reapedChildrenCpuTime()) });
    });
  });
}
