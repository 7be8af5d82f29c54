#!/usr/bin/env -S node --max-semi-space-size=16 --expose-gc
// Parse flags, start the control plane (which starts the worker pool), drain on SIGTERM. With
// no arguments at all, `npm start` runs the bundled demo. The `gatehouse` command is
// gatehouse.js, which enables Node's compile cache first and then calls main(); running this
// file directly (the tests do) works the same without the cache.
//
// --max-semi-space-size=16 (MB; here, in gatehouse.js and in `npm start`): Node 24's V8 grows
// each isolate's young generation to 64 MB semi-spaces while the first snapshot loads (most
// objects survive), and never gives the pages back: 5,000 Ingresses held 420 MB resident without
// it, 320 MB with it (measured here). 16 MB was V8's default until Node 22. --expose-gc: every
// thread gives back the memory of loading once it is done (heap.ts).

import { readFileSync } from 'node:fs';
import { constants } from 'node:module';
import { launch, type Launched } from './control/launch.ts';
import { GatehouseError } from './errors.ts';
import { compactAfterChanges, compactAfterLoading } from './heap.ts';
import { createLog, flushLog } from './observability/log.ts';
import { parseOptions, statusBindAddresses, usage, type Options } from './options.ts';

/** The version in package.json, which ships beside src/ (package.json "files" and the image). */
function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version?: unknown };
  return typeof pkg.version === 'string' ? pkg.version : 'unknown';
}

function fail(message: string, code = 2): never {
  process.stderr.write(`gatehouse: ${message}\n`);
  process.exit(code);
}

/** What gatehouse.js reports of `module.enableCompileCache()`, logged once when it failed. */
export interface CompileCacheResult {
  readonly status: number;
  readonly message?: string;
  readonly directory?: string;
}

export async function run(argv: readonly string[], onReady?: (options: Options) => void, compileCache?: CompileCacheResult): Promise<void> {
  if (argv[0] === 'check' || argv[0] === 'explain') {
    const io = { stdout: (t: string) => process.stdout.write(t), stderr: (t: string) => process.stderr.write(t) };
    // Imported here: they bring the Kubernetes client, which serving in local mode does without.
    const run = argv[0] === 'check' ? (await import('./check/run-check.ts')).runCheck : (await import('./check/run-explain.ts')).runExplain;
    process.exitCode = await run(argv.slice(1), io);
    return;
  }
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(usage());
    return;
  }
  if (argv.includes('--version')) {
    process.stdout.write(`gatehouse ${version()}\n`);
    return;
  }
  let options: Options;
  try {
    options = parseOptions(argv);
  } catch (err) {
    if (err instanceof GatehouseError) fail(err.message);
    throw err;
  }
  const log = createLog(options.logLevel);
  if (compileCache?.status === constants.compileCacheStatus.FAILED) {
    log.info({ reason: compileCache.message }, 'compile cache unavailable: every thread strips the TypeScript sources again (about 17 MB each)');
  }
  let launched: Launched;
  try {
    launched = await launch(options, log);
  } catch (err) {
    log.fatal({ err }, 'could not start');
    flushLog(log);
    fail((err as Error).message, 1);
  }
  // Every worker serves: the main thread's memory of loading goes back too, and after changes once they pause (heap.ts).
  compactAfterLoading(log);
  const { controller } = launched;
  compactAfterChanges(controller.pool, log);
  log.info({ http: `${options.bindAddress}:${options.httpPort}`, status: statusBindAddresses(options).map((a) => `${a}:${controller.adminPort}`), workers: options.workers }, 'gatehouse is serving');
  onReady?.(options);

  controller.failed.catch(async (err: Error) => {
    log.fatal({ err }, 'data plane failed');
    flushLog(log);
    // Workers stopped first (bounded): process.exit() beside running worker threads can abort Node.
    await Promise.race([launched.close().catch(() => undefined), new Promise((r) => setTimeout(r, 5000).unref())]);
    fail(err.message, 1);
  });
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    // SIGTERM (the kubelet, a load balancer's orchestration): unready first, serving on for
    // --shutdown-delay while endpoints are removed; SIGINT (Ctrl-C) drains at once.
    const delayS = signal === 'SIGTERM' ? options.shutdownDelay : 0;
    log.info({ signal, delayS, gracePeriodS: options.shutdownGracePeriod }, 'shutting down: not ready, draining after the delay');
    launched.close(delayS * 1000).then(
      () => {
        log.info({}, 'stopped');
        flushLog(log);
        process.exit(0);
      },
      (err: unknown) => {
        log.error({ err }, 'drain failed');
        flushLog(log);
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

export async function main(argv: readonly string[], compileCache?: CompileCacheResult): Promise<void> {
  if (argv.length === 0) {
    const { runDemo } = await import('../examples/local/demo.ts');
    await runDemo((demoArgv, onReady) => run(demoArgv, onReady, compileCache));
  } else {
    await run(argv, undefined, compileCache);
  }
}

if (import.meta.main) await main(process.argv.slice(2));
