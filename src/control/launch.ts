// Starts Gatehouse from parsed options: the manifest source in local mode, or the
// Kubernetes source with leader election, status and Events; then the controller.

import { closeSync, openSync } from 'node:fs';
import type { Log } from '../observability/log.ts';
import type { Options } from '../options.ts';
// Kubernetes mode and ACME are imported only when used: the Kubernetes client and acme-client
// hold about 80 and 40 MB once loaded (measured here), which local mode has no use for. Local
// mode's manifest source likewise, for Kubernetes mode: it brings the yaml package (~7 MB).
import type { KubeMode, KubeModeTimings } from '../sources/kube/kube-mode.ts';
import type { ManifestSource } from '../sources/manifests/manifest-source.ts';
import type { Source } from '../sources/source.ts';
import type { AcmeService, AcmeTimings } from './acme/acme-service.ts';
import { startController, type Controller } from './controller.ts';

export interface Launched {
  readonly controller: Controller;
  /** Null in local mode. */
  readonly kube: KubeMode | null;
  /** The ACME manager; null without --acme-directory. */
  readonly acme: AcmeService | null;
  /** Drain after `delayMs` of serving unready (Controller.close), and release the Lease. Safe to call twice. */
  close(delayMs?: number): Promise<void>;
}

export interface LaunchEnv {
  env?: NodeJS.ProcessEnv;
  timings?: KubeModeTimings;
  acmeTimings?: AcmeTimings;
}

/** Local mode's source: the manifest directory `dir` (--manifests), watched. */
export async function manifestSource(dir: string, options: Pick<Options, 'manifestsRescanInterval'>, log: Log): Promise<ManifestSource> {
  const { ManifestSource } = await import('../sources/manifests/manifest-source.ts');
  return new ManifestSource({ dir, log: log.child({ component: 'manifests' }), rescanIntervalMs: options.manifestsRescanInterval * 1000 });
}

export async function launch(options: Options, log: Log, { env = process.env, timings, acmeTimings }: LaunchEnv = {}): Promise<Launched> {
  // Each worker opens the access log itself: a path it cannot open stops the start here, once.
  if (options.accessLogPath !== null && options.accessLogSample > 0) {
    try {
      closeSync(openSync(options.accessLogPath, 'a'));
    } catch (err) {
      throw new Error(`--access-log-path: cannot open ${options.accessLogPath} to append: ${(err as Error).message}`, { cause: err });
    }
  }
  let kube: KubeMode | null = null;
  let source: Source;
  if (options.manifests !== null) source = await manifestSource(options.manifests, options, log);
  else {
    const { createKubeMode } = await import('../sources/kube/kube-mode.ts');
    kube = createKubeMode(options, log, env, timings);
    source = kube.source;
  }
  const acme = options.acmeDirectory === null ? null : await (await import('./acme/create-acme.ts')).createAcme(options, log, kube, acmeTimings);
  const controller = await startController(options, source, log, kube?.hooks, acme);
  try {
    await controller.settled();
  } catch (err) {
    // A worker could not listen: stop the others before the caller exits. process.exit() while
    // worker threads still run can abort Node itself (a V8 check fails: SIGTRAP, seen here).
    await controller.close().catch(() => undefined);
    throw err;
  }
  kube?.start();
  let closing: Promise<void> | null = null;
  return {
    controller,
    kube,
    acme,
    // The Lease is released while the workers drain, so another replica takes over at once.
    close: (delayMs?: number) => (closing ??= Promise.all([controller.close(delayMs), kube?.close()]).then(() => undefined)),
  };
}
