// Builds the ACME manager for the mode Gatehouse runs in (null when --acme-directory is not set):
// local mode keeps certificates and the account key in --acme-storage and tokens in memory, and
// always orders; Kubernetes mode writes the Secrets through the API, keeps the account key in the
// Secret `<election-id>-acme-account` and the tokens in the ConfigMap
// `<election-id>-acme-challenges` (both in $POD_NAMESPACE), and orders only while it holds the Lease.

import { X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { GatehouseError } from '../../errors.ts';
import type { Options } from '../../options.ts';
import type { KubeMode } from '../../sources/kube/kube-mode.ts';
import type { Log } from '../../sources/source.ts';
import { AcmeManager } from './acme-manager.ts';
import { ALWAYS_LEADER, type AcmeService, type AcmeTimings } from './acme-service.ts';
import { LocalAcmeStorage } from './acme-storage.ts';
import { MemoryChallengeStore } from './challenge-store.ts';
import { ConfigMapChallengeStore } from './configmap-challenge-store.ts';
import { KubeAcmeStorage } from './kube-acme-storage.ts';

/** The names, in $POD_NAMESPACE, of the account-key Secret and the challenge ConfigMap. */
export function acmeObjectNames(electionId: string): { accountSecret: string; challenges: string } {
  return { accountSecret: `${electionId}-acme-account`, challenges: `${electionId}-acme-challenges` };
}

async function readCaFile(file: string): Promise<string> {
  let pem: string;
  try {
    pem = await readFile(file, 'utf8');
  } catch (err) {
    throw new GatehouseError('GH_FLAG_INVALID', `--acme-ca-file: cannot read ${file}: ${(err as Error).message}`);
  }
  try {
    new X509Certificate(pem);
  } catch {
    throw new GatehouseError('GH_FLAG_INVALID', `--acme-ca-file: ${file} holds no PEM certificate`);
  }
  return pem;
}

export async function createAcme(options: Options, log: Log & { child(b: object): Log }, kube: KubeMode | null, timings: AcmeTimings = {}): Promise<AcmeService | null> {
  if (options.acmeDirectory === null) return null;
  const caPem = options.acmeCaFile === null ? null : await readCaFile(options.acmeCaFile);
  const acmeLog = log.child({ component: 'acme' });
  const common = { directoryUrl: options.acmeDirectory, email: options.acmeEmail, caPem, log: acmeLog, timings };
  if (kube === null) {
    if (options.acmeStorage === null) throw new GatehouseError('GH_FLAG_INVALID', '--acme-storage: required with --acme-directory in local mode (--manifests)');
    return new AcmeManager({ ...common, storage: new LocalAcmeStorage(options.acmeStorage), challenges: new MemoryChallengeStore(), leadership: ALWAYS_LEADER });
  }
  const names = acmeObjectNames(options.electionId);
  return new AcmeManager({
    ...common,
    storage: new KubeAcmeStorage(kube.http, kube.namespace, names.accountSecret),
    challenges: new ConfigMapChallengeStore({ http: kube.http, namespace: kube.namespace, name: names.challenges, log: acmeLog }),
    leadership: {
      isLeader: () => kube.elector.isLeader(),
      onChange: (listener) => {
        kube.elector.on('started', listener);
        kube.elector.on('stopped', listener);
      },
    },
  });
}
