// Certificates for TLS tests: a throwaway CA and leaf certificates it signs (any DNS names,
// wildcards, any validity window, so expired ones too), kubernetes.io/tls Secret builders, and a
// TLS client that reports what the server presented. ECDSA P-256 throughout: fast to make.

import { webcrypto, X509Certificate } from 'node:crypto';
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';
import { connect as h2connect, type ClientHttp2Session } from 'node:http2';
import { request as httpsRequestRaw } from 'node:https';
import { Readable } from 'node:stream';
import { connect, type ConnectionOptions, type TLSSocket } from 'node:tls';
import * as x509 from '@peculiar/x509';

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

const ALG = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
type Keys = Parameters<typeof x509.X509CertificateGenerator.createSelfSigned>[0]['keys'];

export interface KeyPair {
  /** PEM certificate (leaf first, then the CA when `chain`). */
  readonly cert: string;
  /** PEM PKCS#8 private key. */
  readonly key: string;
}

export interface TestCa {
  /** PEM; trust it with `ca:` on the client. */
  readonly cert: string;
  issue(o: IssueOptions): Promise<KeyPair>;
  /** A CA this one signs (its `cert` is the intermediate alone). */
  intermediate(name: string): Promise<TestCa>;
}

export interface IssueOptions {
  /** subjectAltName DNS names; the first is also the CN. */
  readonly dnsNames: readonly string[];
  /** subjectAltName IP addresses (a server reached by address, like an ACME test CA on 127.0.0.1). */
  readonly ipAddresses?: readonly string[];
  readonly notBefore?: Date;
  readonly notAfter?: Date;
  /** The subject DN (RFC 4514, most specific last as @peculiar/x509 writes it: `CN=a, O=b`); default `CN=<first DNS name>`. */
  readonly subject?: string;
  /** Extended key usage: a server certificate (default) or a client one (mTLS to a backend). */
  readonly usage?: 'server' | 'client';
}

let serial = 1;
const nextSerial = () => (serial++).toString(16).padStart(8, '0');

async function newKeys(): Promise<Keys> {
  return (await webcrypto.subtle.generateKey(ALG, true, ['sign', 'verify'])) as unknown as Keys;
}

/** PKCS#8 DER → PEM. */
function pkcs8Pem(der: ArrayBuffer): string {
  const b64 = Buffer.from(der).toString('base64').replace(/.{64}/g, '$&\n').replace(/\n?$/, '\n');
  return `-----BEGIN PRIVATE KEY-----\n${b64}-----END PRIVATE KEY-----\n`;
}

async function keyPem(keys: Keys): Promise<string> {
  return pkcs8Pem(await webcrypto.subtle.exportKey('pkcs8', (keys as unknown as webcrypto.CryptoKeyPair).privateKey));
}

const DAY = 86_400_000;

export async function createCa(name = 'Gatehouse Test CA'): Promise<TestCa> {
  return makeCa(name, null);
}

/** A CA; `parent`: signed by that one (an intermediate), else self-signed. */
async function makeCa(name: string, parent: { cert: x509.X509Certificate; keys: Keys } | null): Promise<TestCa> {
  const caKeys = await newKeys();
  const basics = {
    serialNumber: nextSerial(),
    notBefore: new Date(Date.now() - DAY),
    notAfter: new Date(Date.now() + 30 * DAY),
    signingAlgorithm: ALG,
    extensions: [new x509.BasicConstraintsExtension(true, undefined, true), new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true)],
  };
  const caCert = parent === null
    ? await x509.X509CertificateGenerator.createSelfSigned({ ...basics, name: `CN=${name}`, keys: caKeys })
    : await x509.X509CertificateGenerator.create({
      ...basics,
      subject: `CN=${name}`,
      issuer: parent.cert.subject,
      signingKey: (parent.keys as unknown as webcrypto.CryptoKeyPair).privateKey as never,
      publicKey: (caKeys as unknown as webcrypto.CryptoKeyPair).publicKey as never,
    });
  return {
    cert: caCert.toString('pem'),
    intermediate: (n) => makeCa(n, { cert: caCert, keys: caKeys }),
    async issue(o) {
      const keys = await newKeys();
      const cert = await x509.X509CertificateGenerator.create({
        serialNumber: nextSerial(),
        subject: o.subject ?? `CN=${o.dnsNames[0] ?? 'leaf'}`,
        issuer: caCert.subject,
        notBefore: o.notBefore ?? new Date(Date.now() - DAY),
        notAfter: o.notAfter ?? new Date(Date.now() + 10 * DAY),
        signingKey: (caKeys as unknown as webcrypto.CryptoKeyPair).privateKey as never,
        publicKey: (keys as unknown as webcrypto.CryptoKeyPair).publicKey as never,
        signingAlgorithm: ALG,
        extensions: [
          new x509.BasicConstraintsExtension(false, undefined, true),
          new x509.ExtendedKeyUsageExtension([o.usage === 'client' ? x509.ExtendedKeyUsage.clientAuth : x509.ExtendedKeyUsage.serverAuth]),
          new x509.SubjectAlternativeNameExtension([
            ...o.dnsNames.map((value) => ({ type: 'dns' as const, value })),
            ...(o.ipAddresses ?? []).map((value) => ({ type: 'ip' as const, value })),
          ]),
        ],
      });
      return { cert: cert.toString('pem'), key: await keyPem(keys) };
    },
  };
}

/** An expired leaf (valid from 10 days ago to yesterday). */
export function expired(ca: TestCa, dnsNames: readonly string[]): Promise<KeyPair> {
  return ca.issue({ dnsNames, notBefore: new Date(Date.now() - 10 * DAY), notAfter: new Date(Date.now() - DAY) });
}

/** The certificate of `a` with the key of `b`: a key that does not match. */
export function mismatched(a: KeyPair, b: KeyPair): KeyPair {
  return { cert: a.cert, key: b.key };
}

/** SHA-256 fingerprint of a PEM certificate (its first), as X509Certificate.fingerprint256 gives it. */
export function fingerprintOf(pem: string): string {
  return new X509Certificate(pem).fingerprint256;
}

/** A Secret manifest object holding `pair` (type kubernetes.io/tls unless `type` says otherwise). */
export function tlsSecret(name: string, pair: Partial<KeyPair>, o: { namespace?: string; type?: string } = {}): Record<string, unknown> {
  const data: Record<string, string> = {};
  if (pair.cert !== undefined) data['tls.crt'] = Buffer.from(pair.cert).toString('base64');
  if (pair.key !== undefined) data['tls.key'] = Buffer.from(pair.key).toString('base64');
  return { apiVersion: 'v1', kind: 'Secret', metadata: { name, namespace: o.namespace ?? 'default' }, type: o.type ?? 'kubernetes.io/tls', data };
}

export interface Handshake {
  /** SHA-256 fingerprint of the certificate the server presented. */
  readonly fingerprint: string;
  readonly subjectAltName: string;
  readonly alpn: string | false;
  readonly protocol: string | null;
  readonly reused: boolean;
  /** The session to resume with (TLS 1.3 sends it after the handshake). */
  readonly session: Buffer | null;
}

/**
 * Connects to 127.0.0.1:port, completes a handshake, waits briefly for the session ticket and
 * closes. `servername: null` sends no SNI. Certificates are not verified unless `ca` is given.
 */
export function handshake(
  port: number,
  o: { servername: string | null; ca?: string; session?: Buffer; alpn?: string[]; minVersion?: ConnectionOptions['minVersion']; maxVersion?: ConnectionOptions['maxVersion']; ciphers?: string },
): Promise<Handshake> {
  return new Promise((resolve, reject) => {
    const socket: TLSSocket = connect({
      host: '127.0.0.1',
      port,
      // Node sends no SNI for an IP address; '' sends none either.
      servername: o.servername ?? '',
      ca: o.ca,
      rejectUnauthorized: o.ca !== undefined,
      session: o.session,
      ALPNProtocols: o.alpn,
      minVersion: o.minVersion,
      maxVersion: o.maxVersion,
      ciphers: o.ciphers,
    });
    let session: Buffer | null = null;
    let done = false;
    const timer = setTimeout(() => finish(new Error('handshake: no answer in 5 s')), 5000);
    const finish = (err: Error | null) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      if (err) {
        socket.destroy();
        return reject(err);
      }
      const cert = socket.getPeerX509Certificate();
      const result: Handshake = {
        fingerprint: cert?.fingerprint256 ?? '',
        subjectAltName: cert?.subjectAltName ?? '',
        alpn: socket.alpnProtocol ?? false,
        protocol: socket.getProtocol(),
        reused: socket.isSessionReused(),
        session,
      };
      socket.destroy();
      resolve(result);
    };
    socket.on('session', (s: Buffer) => {
      session = s;
      finish(null);
    });
    socket.once('secureConnect', () => {
      // TLS 1.2 sessions are ready now; TLS 1.3 tickets follow in a moment (or never, on resumption).
      session = socket.getSession() ?? null;
      // A resumed session needs no new ticket for the test's purposes.
      setTimeout(() => finish(null), socket.getProtocol() === 'TLSv1.3' && o.session === undefined ? 200 : 0);
    });
    socket.on('error', (err) => finish(err));
  });
}

export interface HttpsReply {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly text: string;
  readonly alpn: string | false;
}

/** One HTTP/1.1 request over TLS (no ALPN), to 127.0.0.1:port with SNI `servername`. */
export function httpsRequest(port: number, o: { servername: string; path: string; method?: string; host?: string; ca?: string; headers?: Record<string, string> }): Promise<HttpsReply> {
  return new Promise((resolve, reject) => {
    const req = httpsRequestRaw({
      host: '127.0.0.1',
      port,
      servername: o.servername,
      path: o.path,
      method: o.method ?? 'GET',
      headers: { host: o.host ?? o.servername, ...o.headers },
      ca: o.ca,
      rejectUnauthorized: o.ca !== undefined,
      agent: false,
    });
    req.on('response', (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text, alpn: (res.socket as TLSSocket).alpnProtocol ?? false }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

/** An HTTP/2 session to 127.0.0.1:port with SNI `servername` (closed by the caller). */
export function h2Session(port: number, o: { servername: string; ca?: string }): Promise<ClientHttp2Session> {
  return new Promise((resolve, reject) => {
    const session = h2connect(`https://127.0.0.1:${port}`, { servername: o.servername, ca: o.ca, rejectUnauthorized: o.ca !== undefined });
    session.once('connect', () => {
      session.off('error', reject);
      session.on('error', () => undefined);
      resolve(session);
    });
    session.once('error', reject);
  });
}

export interface H2Reply {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
}

/** One request on an HTTP/2 session; `body` is written (or streamed) and the answer read whole. */
export function h2Request(session: ClientHttp2Session, headers: OutgoingHttpHeaders, body?: Buffer | Readable): Promise<H2Reply> {
  return new Promise((resolve, reject) => {
    const stream = session.request(headers, { endStream: body === undefined });
    const chunks: Buffer[] = [];
    let head: IncomingHttpHeaders = {};
    stream.on('response', (h) => (head = h));
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('end', () => resolve({ status: Number(head[':status']), headers: head, body: Buffer.concat(chunks) }));
    stream.on('error', reject);
    if (body instanceof Readable) body.pipe(stream);
    else if (body !== undefined) stream.end(body);
  });
}
