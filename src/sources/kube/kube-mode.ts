// Kubernetes mode, put together: the informer source, leader election, and the leader's
// status and Event writers, fed by every compile.

import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { ControllerHooks } from '../../control/controller.ts';
import type { Options } from '../../options.ts';
import type { Log } from '../source.ts';
import { EventRecorder } from './event-recorder.ts';
import { loadKubeConfig } from './kube-config.ts';
import { KubeHttp } from './kube-http.ts';
import { KubeSource } from './kube-source.ts';
import { LeaderElector } from './leader-election.ts';
import { StatusPublisher } from './status-publisher.ts';

export interface KubeMode {
  readonly source: KubeSource;
  readonly hooks: ControllerHooks;
  readonly elector: LeaderElector;
  /** The API client, and $POD_NAMESPACE (the Lease's; ACME keeps its account and tokens there). */
  readonly http: KubeHttp;
  readonly namespace: string;
  /** Start campaigning for leadership (after the controller serves). */
  start(): void;
  /** Release the Lease and stop the writers. Safe to call twice. */
  close(): Promise<void>;
}

export interface KubeModeTimings {
  leaseDurationMs?: number;
  renewDeadlineMs?: number;
  retryPeriodMs?: number;
}

export function createKubeMode(options: Options, log: Log & { child(b: object): Log }, env: NodeJS.ProcessEnv = process.env, timings: KubeModeTimings = {}): KubeMode {
  const http = new KubeHttp(loadKubeConfig(options, env));
  const identity = env.POD_NAME ?? `${hostname()}_${randomUUID().slice(0, 8)}`;
  const namespace = env.POD_NAMESPACE ?? 'default';
  const elector = new LeaderElector({
    http,
    namespace,
    name: options.electionId,
    identity,
    log: log.child({ component: 'leader-election' }),
    ...timings,
  });
  const status = options.updateStatus
    ? new StatusPublisher({ http, elector, log: log.child({ component: 'status' }), publishService: options.publishService, publishStatusAddress: options.publishStatusAddress })
    : null;
  const events = new EventRecorder({ http, elector, log: log.child({ component: 'events' }), identity });
  elector.on('started', () => {
    status?.sync();
    events.resync();
  });
  const source = new KubeSource({ http, namespace: options.watchNamespace, configMap: options.configmap, log: log.child({ component: 'kube' }) });
  let closing: Promise<void> | null = null;
  return {
    source,
    elector,
    http,
    namespace,
    hooks: {
      onCompiled: (snapshot, result) => {
        source.watchSecrets(result.annotationSecrets, snapshot);
        source.watchConfigMaps(result.configMaps);
        status?.update(snapshot, result.ingresses);
        events.update(snapshot, result.conditions);
      },
      onConditions: (snapshot, conditions) => events.update(snapshot, conditions),
      leader: () => elector.isLeader(),
    },
    start: () => {
      status?.start();
      elector.start();
    },
    close: () =>
      (closing ??= (async () => {
        await status?.close();
        await elector.release();
      })()),
  };
}
