// Debian's `pebble` (an RFC 8555 ACME test server) for the ACME tests, started on loopback with a
// generated config: its HTTPS directory serves a certificate from a throwaway CA (certs.ts), its
// HTTP-01 validations go to `httpPort` (Gatehouse's HTTP port), and names resolve through
// `pebble-challtestsrv` run as a DNS server that answers every A query with 127.0.0.1. Real
// validation stays on (no PEBBLE_VA_ALWAYS_VALID): the token must really be served. Only the
// processes started here are ever killed, by their own PID.
//
//   const pebble = await startPebble({ httpPort: gatehousePort });
//   pebble.directory;       // https://127.0.0.1:<port>/dir, trust pebble.caFile (--acme-ca-file)
//   await pebble.root();    // the issuing root, from the management API (/roots/0)
//   await pebble.close();
//
// Suites that use it run only where the Debian package is installed: describe.runIf(pebbleInstalled()).

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Agent, request } from 'undici';
import { createCa, type TestCa } from './certs.ts';
import { freePort, sleep } from './harness.ts';
import { requirePackage } from './system-package.ts';

export const PEBBLE = '/usr/bin/pebble';
export const CHALLTESTSRV = '/usr/bin/pebble-challtestsrv';

/** Whether Debian's pebble is installed; prints the skip notice when not (throws with CI=true). Call once per suite file. */
export function pebbleInstalled(): boolean {
  return requirePackage('pebble', [PEBBLE, CHALLTESTSRV], { suites: 'ACME suites' });
}

export interface PebbleOptions {
  /** The port pebble's VA sends HTTP-01 validations to (on the address the name resolves to: 127.0.0.1). */
  readonly httpPort: number;
  /** Seconds a certificate pebble issues is valid (config certificateValidityPeriod); pebble's default otherwise. */
  readonly certificateValidityPeriod?: number;
  /** Names pebble refuses to order for (config domainBlocklist): an order that always fails. */
  readonly domainBlocklist?: readonly string[];
  /** The directory's port (default: a free one), e.g. one a controller was already pointed at. */
  readonly listenPort?: number;
  /** The CA of pebble's HTTPS certificate (default: a new one), e.g. one a controller already trusts. */
  readonly ca?: TestCa;
}

export interface Pebble {
  /** The ACME directory URL. */
  readonly directory: string;
  /** A PEM file holding the CA of pebble's own HTTPS certificate (for --acme-ca-file). */
  readonly caFile: string;
  /** The same CA, PEM. */
  readonly caPem: string;
  /** Every line pebble wrote (stdout and stderr), oldest first. */
  readonly logs: string[];
  /** The root that signs issued certificates (management API `/roots/0`), PEM. */
  root(): Promise<string>;
  /** How many orders pebble was asked to create (its `POST /order-plz` log lines). */
  orders(): number;
  /** Stops both processes (by PID) and removes the temp directory. Safe to call twice. */
  close(): Promise<void>;
}

function startProcess(file: string, args: string[], env: NodeJS.ProcessEnv, logs: string[]): ChildProcess {
  const child = spawn(file, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  for (const stream of [child.stdout!, child.stderr!]) {
    let rest = '';
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => {
      const lines = (rest + chunk).split('\n');
      rest = lines.pop()!;
      logs.push(...lines);
    });
  }
  child.on('error', (err) => logs.push(`spawn error: ${err.message}`));
  return child;
}

async function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  process.kill(child.pid, 'SIGTERM');
  const timer = setTimeout(() => {
    if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) process.kill(child.pid, 'SIGKILL');
  }, 2000);
  await exited;
  clearTimeout(timer);
}

export async function startPebble(o: PebbleOptions): Promise<Pebble> {
  const dir = await mkdtemp(path.join(tmpdir(), 'gatehouse-pebble-'));
  const ca = o.ca ?? (await createCa('Pebble Test Server CA'));
  const serverPair = await ca.issue({ dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'] });
  const [listen, management, tlsPort, dnsPort, dnsManagement] = [o.listenPort ?? (await freePort()), await freePort(), await freePort(), await freePort(), await freePort()];
  const certFile = path.join(dir, 'cert.pem');
  const keyFile = path.join(dir, 'key.pem');
  const caFile = path.join(dir, 'ca.pem');
  const configFile = path.join(dir, 'pebble-config.json');
  await writeFile(certFile, serverPair.cert);
  await writeFile(keyFile, serverPair.key);
  await writeFile(caFile, ca.cert);
  await writeFile(configFile, JSON.stringify({
    pebble: {
      listenAddress: `127.0.0.1:${listen}`,
      managementListenAddress: `127.0.0.1:${management}`,
      certificate: certFile,
      privateKey: keyFile,
      httpPort: o.httpPort,
      tlsPort,
      ocspResponderURL: '',
      externalAccountBindingRequired: false,
      ...(o.certificateValidityPeriod !== undefined ? { certificateValidityPeriod: o.certificateValidityPeriod } : {}),
      ...(o.domainBlocklist !== undefined ? { domainBlocklist: o.domainBlocklist } : {}),
    },
  }));

  const logs: string[] = [];
  const children: ChildProcess[] = [];
  const agent = new Agent({ connect: { ca: ca.cert } });
  let closing: Promise<void> | null = null;
  const close = () =>
    (closing ??= (async () => {
      await Promise.all(children.map(stopProcess));
      await agent.close().catch(() => undefined);
      await rm(dir, { recursive: true, force: true });
    })());

  try {
    // DNS only: every A query answers 127.0.0.1; the challenge servers of its own are off.
    children.push(startProcess(CHALLTESTSRV, [
      '-dns01', `127.0.0.1:${dnsPort}`, '-http01', '', '-https01', '', '-tlsalpn01', '', '-management', `127.0.0.1:${dnsManagement}`,
      '-defaultIPv4', '127.0.0.1', '-defaultIPv6', '',
    ], { PATH: process.env.PATH }, logs));
    children.push(startProcess(PEBBLE, ['-config', configFile, '-dnsserver', `127.0.0.1:${dnsPort}`], {
      PATH: process.env.PATH,
      // No random 0-15 s sleep before validating; no nonces refused at random (badNonce retries).
      PEBBLE_VA_NOSLEEP: '1',
      PEBBLE_WFE_NONCEREJECT: '0',
      // Each order gets fresh authorizations, so every order is validated for real.
      PEBBLE_AUTHZREUSE: '0',
    }, logs));
    const directory = `https://127.0.0.1:${listen}/dir`;
    const deadline = Date.now() + 10_000;
    for (;;) {
      const ok = await request(directory, { dispatcher: agent, headersTimeout: 1000, bodyTimeout: 1000 }).then(
        async (r) => {
          await r.body.dump();
          return r.statusCode === 200;
        },
        () => false,
      );
      if (ok) break;
      if (children.some((c) => c.exitCode !== null)) throw new Error(`pebble exited at start:\n${logs.join('\n')}`);
      if (Date.now() > deadline) throw new Error(`pebble did not answer on ${directory} within 10 s:\n${logs.join('\n')}`);
      await sleep(50);
    }
    return {
      directory,
      caFile,
      caPem: ca.cert,
      logs,
      async root() {
        const r = await request(`https://127.0.0.1:${management}/roots/0`, { dispatcher: agent, headersTimeout: 5000, bodyTimeout: 5000 });
        if (r.statusCode !== 200) throw new Error(`pebble /roots/0 answered ${r.statusCode}`);
        return r.body.text();
      },
      orders: () => logs.filter((l) => /POST \/order-plz/.test(l)).length,
      close,
    };
  } catch (err) {
    await close();
    throw err;
  }
}
