// Where ACME certificates and the account key are kept (issue 4, item 6), behind one interface:
//
// - Local mode (`--acme-storage DIR`): DIR/<namespace>_<name>.yaml, a kubernetes.io/tls Secret
//   manifest per certificate (`_` cannot occur in Kubernetes names, so the file name is never
//   ambiguous, which `<namespace>-<name>` would be), and DIR/acme-account.key. The manager puts the
//   Secrets it loads at start, and each one it writes, straight into the controller's snapshot:
//   no second directory watch (its debounce would delay every new certificate, and a file the
//   watcher has not seen yet would look like a missing certificate and order again), and the
//   first table already serves the stored certificates after a restart. DIR is the manager's own;
//   a Secret of the same name in --manifests replaces it in the snapshot when that file changes,
//   and is kept while valid, so name ACME Secrets nowhere else.
// - Kubernetes mode (kube-acme-storage.ts): the Secret itself, created or updated through the
//   API; the informer brings it back into every replica's snapshot. The account key lives in a
//   Secret in the controller's namespace.
//
// Files are written atomically (temp file + rename) with mode 0600: they hold private keys.

import { chmod, mkdir, readdir, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parse } from 'yaml';
import { toKubeObject, type KubeObject } from '../../core/snapshot.ts';
import type { CertificatePem } from '../../dataplane/tls/tls-material.ts';
import { TLS_SECRET_TYPE } from './certificate-state.ts';

/** Annotation on the Secrets the manager writes: the names the certificate was ordered for. */
export const ACME_NAMES_ANNOTATION = 'gatehouse.io/acme-names';

export interface AcmeStorage {
  /** Secrets the storage keeps itself, for the snapshot at start (local mode); [] in Kubernetes mode. */
  load(): Promise<KubeObject[]>;
  /** The stored account key (PEM); else `generate()`s one and stores it. A key stored meanwhile by another writer wins. */
  accountKey(generate: () => Promise<string>): Promise<string>;
  /**
   * Writes the certificate into Secret namespace/name (created, or updated keeping its other
   * fields). Returns the Secret for the snapshot, or null when the source will deliver it.
   */
  writeCertificate(namespace: string, name: string, pem: CertificatePem, names: readonly string[]): Promise<KubeObject | null>;
}

/** A storage failure (GH_ACME_STORAGE_FAILED), as opposed to the CA's. */
export class AcmeStorageError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'AcmeStorageError';
  }
}

/** The Secret object for a certificate, as both storages write it. */
export function certificateSecret(namespace: string, name: string, pem: CertificatePem, names: readonly string[]): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name, namespace, annotations: { [ACME_NAMES_ANNOTATION]: names.join(',') } },
    type: TLS_SECRET_TYPE,
    data: { 'tls.crt': Buffer.from(pem.cert).toString('base64'), 'tls.key': Buffer.from(pem.key).toString('base64') },
  };
}

async function writeAtomically(file: string, text: string): Promise<void> {
  const temp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.tmp`);
  await writeFile(temp, text, { mode: 0o600 });
  await chmod(temp, 0o600);
  await rename(temp, file);
}

export class LocalAcmeStorage implements AcmeStorage {
  private readonly dir: string;

  constructor(dir: string) {
    this.dir = dir;
  }

  private wrap<T>(what: string, p: Promise<T>): Promise<T> {
    return p.catch((err: unknown) => {
      throw new AcmeStorageError(`${what}: ${(err as Error).message}`, { cause: err });
    });
  }

  async load(): Promise<KubeObject[]> {
    await this.wrap(`cannot create --acme-storage ${this.dir}`, mkdir(this.dir, { recursive: true, mode: 0o700 }));
    const files = (await this.wrap(`cannot read --acme-storage ${this.dir}`, readdir(this.dir))).filter((f) => f.endsWith('.yaml') && !f.startsWith('.')).sort();
    const out: KubeObject[] = [];
    for (const f of files) {
      // A file that does not parse is skipped: it is replaced when its certificate is ordered again.
      try {
        const checked = toKubeObject(parse(await readFile(path.join(this.dir, f), 'utf8')) as unknown);
        if (checked.ok && checked.object.kind === 'Secret') out.push(checked.object);
      } catch {
        continue;
      }
    }
    return out;
  }

  async accountKey(generate: () => Promise<string>): Promise<string> {
    const file = path.join(this.dir, 'acme-account.key');
    try {
      return await readFile(file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new AcmeStorageError(`cannot read the ACME account key ${file}: ${(err as Error).message}`, { cause: err });
    }
    const key = await generate();
    await this.wrap(`cannot store the ACME account key in ${file}`, mkdir(this.dir, { recursive: true, mode: 0o700 }).then(() => writeAtomically(file, key)));
    return key;
  }

  async writeCertificate(namespace: string, name: string, pem: CertificatePem, names: readonly string[]): Promise<KubeObject> {
    const secret = certificateSecret(namespace, name, pem, names);
    const file = path.join(this.dir, `${namespace}_${name}.yaml`);
    const text = `# Written by Gatehouse's ACME manager for ${names.join(', ')}; replaced on renewal.\n${JSON.stringify(secret, null, 2)}\n`;
    await this.wrap(`cannot write ${file}`, mkdir(this.dir, { recursive: true, mode: 0o700 }).then(() => writeAtomically(file, text)));
    return secret;
  }
}
