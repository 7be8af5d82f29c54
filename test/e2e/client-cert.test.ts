// Client-certificate authentication end to end (auth-tls-*): certificates made here (a CA, a
// client it signs, one another CA signs, intermediates for the depth), HTTP/1.1 over TLS 1.2 and
// 1.3 and HTTP/2, every verify mode, the error page, the headers the echo upstream receives (the
// DNs and the escaped certificate checked against OpenSSL's own output, which nginx's match), a
// host on the same listener that never asks for a certificate, sessions never resumed, and the
// CA bundle rotated live.

import { execFileSync } from 'node:child_process';
import { createServer } from 'node:http';
import { connect as h2connect, type ClientHttp2Session } from 'node:http2';
import { request as httpsRequest, type RequestOptions } from 'node:https';
import { connect as netConnect, type AddressInfo } from 'node:net';
import { connect as tlsConnect, type ConnectionOptions, type TLSSocket } from 'node:tls';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCa, expired, h2Request, tlsSecret, type KeyPair, type TestCa } from '../support/certs.ts';
import { headerValues, startEcho, type Echo } from '../support/echo-upstream.ts';
import { rawExchange } from '../support/http-client.ts';
import { backendService, ingress, ingressClass, manifest, startGatehouse, type Gatehouse } from '../support/harness.ts';
import { requirePackage } from '../support/system-package.ts';

const A = 'nginx.ingress.kubernetes.io/';
const HOSTS = ['auth.test', 'alias.test', 'aliased.test', 'on.test', 'optional.test', 'noca.test', 'off.test', 'page.test', 'pass.test', 'cn.test', 'depth.test', 'depth2.test', 'open.test', 'missing.test', 'rotate.test'];
const SSL_HEADERS = ['ssl-client-verify', 'ssl-client-subject-dn', 'ssl-client-issuer-dn', 'ssl-client-cert'];

interface Reply {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly text: string;
  readonly reused: boolean;
}

interface Ask {
  readonly cert?: KeyPair;
  /** SNI, default the host. */
  readonly sni?: string;
  readonly maxVersion?: ConnectionOptions['maxVersion'];
  readonly headers?: Record<string, string>;
  readonly session?: Buffer;
}

function opaqueSecret(name: string, data: Record<string, string>): Record<string, unknown> {
  return { apiVersion: 'v1', kind: 'Secret', metadata: { name, namespace: 'default' }, type: 'Opaque', data: Object.fromEntries(Object.entries(data).map(([k, v]) => [k, Buffer.from(v).toString('base64')])) };
}

/** What OpenSSL says (nginx uses it: $ssl_client_s_dn is X509_NAME_print_ex with XN_FLAG_RFC2253). */
function openssl(pem: string, ...args: string[]): string {
  return execFileSync('openssl', ['x509', '-noout', ...args], { input: pem, encoding: 'utf8' }).trim();
}

/** ngx_escape_uri with NGX_ESCAPE_URI_COMPONENT, byte by byte: all but A-Z a-z 0-9 - . _ ~. */
function nginxEscape(text: string): string {
  return [...Buffer.from(text)].map((b) => (/[A-Za-z0-9\-._~]/.test(String.fromCharCode(b)) ? String.fromCharCode(b) : `%${b.toString(16).toUpperCase().padStart(2, '0')}`)).join('');
}

// OpenSSL's command line is the oracle for the DNs and the PEM nginx would send, and shows the handshake.
describe.runIf(requirePackage('openssl', ['/usr/bin/openssl'], { suites: 'client-certificate suites' }))('client-certificate authentication (auth-tls-*)', () => {
  let echo: Echo;
  let gh: Gatehouse;
  let root: TestCa;
  let other: TestCa;
  let alice: KeyPair;
  let mallory: KeyPair;
  let stale: KeyPair;
  let viaIntermediate: KeyPair;
  let viaTwo: KeyPair;
  let intermediatePem: string;
  let bundle: string;
  /** The headers of each request the auth-url server saw. */
  const authSeen: Record<string, string | string[] | undefined>[] = [];
  const auth = createServer((req, res) => {
    authSeen.push(req.headers);
    res.end();
  });

  /** One HTTP/1.1 request over TLS (its own connection), to 127.0.0.1 with SNI. */
  const get = (host: string, o: Ask = {}): Promise<Reply> =>
    new Promise((resolve, reject) => {
      const req = httpsRequest({
        host: '127.0.0.1', port: gh.httpsPort, servername: o.sni ?? host, path: '/x', headers: { host, ...o.headers }, agent: false,
        rejectUnauthorized: false, maxVersion: o.maxVersion, cert: o.cert?.cert, key: o.cert?.key, session: o.session,
      } as RequestOptions);
      req.on('response', (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (text += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text, reused: (res.socket as TLSSocket).isSessionReused() }));
      });
      req.on('error', reject);
      req.end();
    });

  const h2 = (sni: string, cert?: KeyPair): Promise<ClientHttp2Session> =>
    new Promise((resolve, reject) => {
      const s = h2connect(`https://127.0.0.1:${gh.httpsPort}`, { servername: sni, rejectUnauthorized: false, cert: cert?.cert, key: cert?.key });
      s.once('connect', () => resolve(s));
      s.once('error', reject);
    });

  /** The ssl-client-* headers the upstream received with the last request (absent ones left out). */
  const upstreamSsl = (): Record<string, string[]> => {
    const last = echo.received.at(-1)!;
    return Object.fromEntries(SSL_HEADERS.map((n) => [n, headerValues(last.headers, n)]).filter(([, v]) => v!.length > 0));
  };

  /** Asserts the request answered without anything reaching the upstream. */
  const refused = async (p: Promise<Reply>, status: number, text: string): Promise<Reply> => {
    const before = echo.received.length;
    const r = await p;
    expect([r.status, r.text]).toEqual([status, text]);
    expect(echo.received.length).toBe(before);
    return r;
  };

  const site = (host: string, annotations: Record<string, string>) =>
    ingress(host.replaceAll('.', '-'), { annotations, rules: [{ host, paths: [{ path: '/', pathType: 'Prefix', service: 'echo' }] }] });

  beforeAll(async () => {
    root = await createCa('Client Root');
    other = await createCa('Other Root');
    const int1 = await root.intermediate('Client Intermediate');
    const int2 = await int1.intermediate('Client Intermediate 2');
    intermediatePem = int1.cert;
    bundle = root.cert + int1.cert + int2.cert;
    const client = { dnsNames: ['alice'], usage: 'client' as const };
    [alice, mallory, stale, viaIntermediate, viaTwo] = await Promise.all([
      root.issue({ ...client, subject: 'CN=alice, O=Acme\\, Inc., L=Zürich' }),
      other.issue({ ...client, subject: 'CN=mallory' }),
      expired(root, ['stale']),
      int1.issue({ ...client, subject: 'CN=deep' }),
      int2.issue({ ...client, subject: 'CN=deeper' }),
    ]);
    const server = await root.issue({ dnsNames: HOSTS });
    echo = await startEcho({ name: 'mtls' });
    await new Promise<void>((r) => auth.listen(0, '127.0.0.1', () => r()));
    const secret = (name: string) => ({ [`${A}auth-tls-secret`]: `default/${name}` });
    gh = await startGatehouse({
      manifests: {
        'base.yaml': manifest(
          ingressClass('gatehouse'),
          backendService('echo', echo.port),
          tlsSecret('server', server),
          opaqueSecret('ca', { 'ca.crt': root.cert }),
          opaqueSecret('chain', { 'ca.crt': bundle }),
          { ...ingress('tls', { rules: [] }), spec: { ingressClassName: 'gatehouse', tls: [{ hosts: HOSTS, secretName: 'server' }] } },
          site('on.test', secret('ca')),
          site('optional.test', { ...secret('ca'), [`${A}auth-tls-verify-client`]: 'optional' }),
          site('noca.test', { ...secret('ca'), [`${A}auth-tls-verify-client`]: 'optional_no_ca' }),
          site('off.test', { ...secret('ca'), [`${A}auth-tls-verify-client`]: 'off' }),
          site('page.test', { ...secret('ca'), [`${A}auth-tls-error-page`]: 'https://errors.example.com/cert.html' }),
          site('pass.test', { ...secret('ca'), [`${A}auth-tls-pass-certificate-to-upstream`]: 'true' }),
          site('cn.test', { ...secret('ca'), 'gatehouse.io/auth-tls-match-cn': 'CN=(bob|carol)' }),
          site('depth.test', secret('chain')),
          site('depth2.test', { ...secret('chain'), [`${A}auth-tls-verify-depth`]: '2' }),
          site('open.test', {}),
          site('aliased.test', { ...secret('ca'), [`${A}server-alias`]: 'alias.test' }),
          site('auth.test', { ...secret('ca'), [`${A}auth-url`]: `http://127.0.0.1:${(auth.address() as AddressInfo).port}/check` }),
          site('missing.test', secret('nope')),
          site('plain.test', secret('ca')),
          site('rotate.test', secret('rotating')),
        ),
        'rotating.yaml': manifest(opaqueSecret('rotating', { 'ca.crt': root.cert })),
      },
    });
  });

  afterAll(async () => {
    await gh?.close();
    await echo?.close();
    auth.close();
  });

  it.each(['TLSv1.2', 'TLSv1.3'] as const)('verify on, HTTP/1.1 over %s: a certificate the CA signed is forwarded with its DNs, as OpenSSL writes them in RFC 2253', async (maxVersion) => {
    const r = await get('on.test', { cert: alice, maxVersion });
    expect(r.status).toBe(200);
    expect(upstreamSsl()).toEqual({
      'ssl-client-verify': ['SUCCESS'],
      'ssl-client-subject-dn': [openssl(alice.cert, '-subject', '-nameopt', 'RFC2253').replace(/^subject=/, '')],
      'ssl-client-issuer-dn': ['CN=Client Root'],
    });
  });

  it('verify on: no certificate answers 400 "No required SSL certificate was sent", one another CA signed 400 "The SSL certificate error", an expired one too; nothing forwarded', async () => {
    await refused(get('on.test'), 400, '400 No required SSL certificate was sent\n');
    await refused(get('on.test', { cert: mallory }), 400, '400 The SSL certificate error\n');
    await refused(get('on.test', { cert: stale }), 400, '400 The SSL certificate error\n');
  });

  it('verify on over HTTP/2: verified per connection, every stream forwarded with the headers; no certificate answers 400', async () => {
    const s = await h2('on.test', alice);
    try {
      for (let i = 0; i < 2; i++) {
        const r = await h2Request(s, { ':path': '/h2', ':authority': 'on.test' });
        expect(r.status).toBe(200);
        expect(upstreamSsl()['ssl-client-verify']).toEqual(['SUCCESS']);
      }
    } finally {
      s.close();
    }
    const bare = await h2('on.test');
    try {
      const r = await h2Request(bare, { ':path': '/h2', ':authority': 'on.test' });
      expect([r.status, r.body.toString()]).toEqual([400, '400 No required SSL certificate was sent\n']);
    } finally {
      bare.close();
    }
  });

  it('WebSocket upgrades are checked like any request: with the certificate 101, without 400', async () => {
    const open = (cert?: KeyPair) =>
      new Promise<string>((resolve) => {
        const ws = new WebSocket(`wss://127.0.0.1:${gh.httpsPort}/ws`, { servername: 'on.test', headers: { host: 'on.test' }, rejectUnauthorized: false, cert: cert?.cert, key: cert?.key } as WebSocket.ClientOptions);
        ws.once('open', () => {
          ws.close();
          resolve('open');
        });
        ws.once('unexpected-response', (_req, res) => {
          resolve(String(res.statusCode));
          ws.terminate();
        });
        ws.once('error', (err) => resolve(err.message));
      });
    expect(await open(alice)).toBe('open');
    expect(upstreamSsl()['ssl-client-verify']).toEqual(['SUCCESS']);
    expect(await open()).toBe('400');
  });

  it('never passes the client\'s own ssl-client-* headers upstream', async () => {
    const spoof = { 'ssl-client-verify': 'SUCCESS', 'ssl-client-subject-dn': 'CN=admin', 'ssl-client-issuer-dn': 'CN=Client Root', 'ssl-client-cert': 'forged' };
    await get('optional.test', { headers: spoof });
    expect(upstreamSsl()).toEqual({ 'ssl-client-verify': ['NONE'] });
    await get('on.test', { cert: alice, headers: spoof });
    expect(upstreamSsl()['ssl-client-subject-dn']![0]).toMatch(/,CN=alice$/);
    expect(upstreamSsl()['ssl-client-cert']).toBeUndefined();
  });

  it('an auth-url sub-request gets the verification\'s ssl-client-* headers too (as ingress-nginx\'s auth location), never the client\'s', async () => {
    const r = await get('auth.test', { cert: alice, headers: { 'ssl-client-verify': 'forged', 'ssl-client-cert': 'forged' } });
    expect(r.status).toBe(200);
    const seen = authSeen.at(-1)!;
    expect([seen['ssl-client-verify'], seen['ssl-client-issuer-dn'], seen['ssl-client-cert']]).toEqual(['SUCCESS', 'CN=Client Root', undefined]);
    expect(upstreamSsl()['ssl-client-verify']).toEqual(['SUCCESS']);
  });

  it('a server-alias of a host asking for certificates asks for them too, with the host\'s settings', async () => {
    expect((await get('alias.test', { cert: alice })).status).toBe(200);
    expect(upstreamSsl()['ssl-client-verify']).toEqual(['SUCCESS']);
    await refused(get('alias.test'), 400, '400 No required SSL certificate was sent\n');
  });

  it('optional: no certificate is forwarded as NONE; a failed one answers 400', async () => {
    expect((await get('optional.test')).status).toBe(200);
    expect(upstreamSsl()).toEqual({ 'ssl-client-verify': ['NONE'] });
    expect((await get('optional.test', { cert: alice })).status).toBe(200);
    expect(upstreamSsl()['ssl-client-verify']).toEqual(['SUCCESS']);
    await refused(get('optional.test', { cert: mallory }), 400, '400 The SSL certificate error\n');
  });

  it('optional_no_ca: a certificate of an unknown CA is forwarded with FAILED and OpenSSL\'s reason; an expired one still answers 400', async () => {
    expect((await get('noca.test', { cert: mallory })).status).toBe(200);
    expect(upstreamSsl()).toEqual({ 'ssl-client-verify': ['FAILED:unable to verify the first certificate'], 'ssl-client-subject-dn': ['CN=mallory'], 'ssl-client-issuer-dn': ['CN=Other Root'] });
    expect((await get('noca.test')).status).toBe(200);
    await refused(get('noca.test', { cert: stale }), 400, '400 The SSL certificate error\n');
  });

  it('off: no certificate is asked for; requests are forwarded with NONE', async () => {
    expect((await get('off.test', { cert: alice })).status).toBe(200);
    expect(upstreamSsl()).toEqual({ 'ssl-client-verify': ['NONE'] });
  });

  it('auth-tls-error-page: a failed verification answers 302 to it instead of 400', async () => {
    for (const cert of [undefined, mallory]) {
      const r = await refused(get('page.test', { cert }), 302, '302 Found\n');
      expect(r.headers.location).toBe('https://errors.example.com/cert.html');
    }
    expect((await get('page.test', { cert: alice })).status).toBe(200);
  });

  it('auth-tls-pass-certificate-to-upstream: ssl-client-cert is the PEM URL-encoded exactly as nginx\'s $ssl_client_escaped_cert', async () => {
    expect((await get('pass.test', { cert: alice })).status).toBe(200);
    const sent = upstreamSsl()['ssl-client-cert']!;
    expect(sent).toEqual([nginxEscape(execFileSync('openssl', ['x509'], { input: alice.cert, encoding: 'utf8' }))]);
    expect(sent[0]).toMatch(/^-----BEGIN%20CERTIFICATE-----%0A/);
  });

  it('auth-tls-match-cn: a subject DN the regex does not find answers 403 "client certificate unauthorized"', async () => {
    await refused(get('cn.test', { cert: alice }), 403, '403 client certificate unauthorized\n');
  });

  it('auth-tls-verify-depth: intermediates up to the depth pass (in the bundle or sent by the client), more answer 400', async () => {
    expect((await get('depth.test', { cert: viaIntermediate })).status).toBe(200);
    expect((await get('on.test', { cert: { cert: `${viaIntermediate.cert}\n${intermediatePem}`, key: viaIntermediate.key } })).status).toBe(200);
    await refused(get('depth.test', { cert: viaTwo }), 400, '400 The SSL certificate error\n');
    expect((await get('depth2.test', { cert: viaTwo })).status).toBe(200);
    expect(upstreamSsl()['ssl-client-subject-dn']).toEqual(['CN=deeper']);
  });

  it('a host whose Secret is missing answers 403 to every request, with a condition', async () => {
    await refused(get('missing.test', { cert: alice }), 403, '403 Forbidden\n');
    expect(gh.controller.conditions().some((c) => c.code === 'GH_CLIENT_CERT_SECRET_NOT_FOUND' && c.ref.name === 'missing-test')).toBe(true);
  });

  it('plain HTTP to a host asking for certificates presents none: 400 (nginx would serve it unverified)', async () => {
    await refused(gh.request('/x', { host: 'plain.test' }).then((r) => ({ status: r.status, headers: {}, text: r.text, reused: false })), 400, '400 No required SSL certificate was sent\n');
  });

  it('a request for a host asking for certificates on a connection made for another name answers 421 Misdirected Request', async () => {
    await refused(get('on.test', { sni: 'open.test', cert: alice }), 421, '421 Misdirected Request\n');
    const s = await h2('open.test', alice);
    try {
      expect((await h2Request(s, { ':path': '/', ':authority': 'on.test' })).status).toBe(421);
    } finally {
      s.close();
    }
  });

  it('another host on the same listener serves a client without a certificate, and its sessions resume; a host asking for them never resumes one', async () => {
    expect((await get('open.test')).status).toBe(200);
    expect(upstreamSsl()).toEqual({});
    for (const maxVersion of ['TLSv1.2', 'TLSv1.3'] as const) {
      const first = await session('open.test', maxVersion);
      expect(await session('open.test', maxVersion, first)).toBe(null);
      const auth = await session('on.test', maxVersion, undefined, alice);
      const again = await get('on.test', { cert: alice, maxVersion, session: auth ?? undefined });
      expect([again.status, again.reused]).toEqual([200, false]);
      expect(upstreamSsl()['ssl-client-verify']).toEqual(['SUCCESS']);
    }
  });

  it.each(['-tls1_2', '-tls1_3'])('asks for a certificate only when SNI names a host that wants one (%s, as openssl s_client sees the handshake)', (version) => {
    const sClient = (sni: string) => execFileSync('openssl', ['s_client', '-connect', `127.0.0.1:${gh.httpsPort}`, '-servername', sni, version, '-msg'], { input: '', encoding: 'utf8', stdio: ['pipe', 'pipe', 'ignore'] });
    expect(sClient('open.test')).not.toMatch(/CertificateRequest/);
    expect(sClient('off.test')).not.toMatch(/CertificateRequest/);
    expect(sClient('on.test')).toMatch(/CertificateRequest/);
  });

  it('the CA bundle rotated live: new connections are verified with the new one, open ones answer 421', async () => {
    const s = await h2('rotate.test', alice);
    try {
      expect((await h2Request(s, { ':path': '/', ':authority': 'rotate.test' })).status).toBe(200);
      await gh.write('rotating.yaml', manifest(opaqueSecret('rotating', { 'ca.crt': other.cert })));
      expect((await h2Request(s, { ':path': '/', ':authority': 'rotate.test' })).status).toBe(421);
    } finally {
      s.close();
    }
    await refused(get('rotate.test', { cert: alice }), 400, '400 The SSL certificate error\n');
    expect((await get('rotate.test', { cert: mallory })).status).toBe(200);
  });

  /**
   * A bare TLS handshake with `sni`, resuming `resume` when given: the session to resume with
   * next, or null when `resume` was resumed (no new one needed).
   */
  function session(sni: string, maxVersion: 'TLSv1.2' | 'TLSv1.3', resume?: Buffer | null, cert?: KeyPair): Promise<Buffer | null> {
    return new Promise((resolve, reject) => {
      const socket = tlsConnect({ host: '127.0.0.1', port: gh.httpsPort, servername: sni, rejectUnauthorized: false, maxVersion, minVersion: maxVersion, session: resume ?? undefined, cert: cert?.cert, key: cert?.key });
      socket.on('error', reject);
      let got: Buffer | null = null;
      socket.on('session', (s: Buffer) => (got = s));
      socket.once('secureConnect', () => {
        if (socket.isSessionReused()) {
          socket.destroy();
          return resolve(null);
        }
        // TLS 1.3 tickets follow the handshake.
        setTimeout(() => {
          resolve(got ?? socket.getSession() ?? null);
          socket.destroy();
        }, maxVersion === 'TLSv1.3' ? 200 : 0);
      });
    });
  }
});

describe.runIf(requirePackage('openssl', ['/usr/bin/openssl'], { suites: 'client-certificate suites' }))('client certificates behind use-proxy-protocol', () => {
  let echo: Echo;
  let gh: Gatehouse;
  let alice: KeyPair;

  beforeAll(async () => {
    const root = await createCa('Client Root');
    alice = await root.issue({ dnsNames: ['alice'], usage: 'client', subject: 'CN=alice' });
    echo = await startEcho({ name: 'mtls-proxied' });
    gh = await startGatehouse({
      manifests: manifest(
        ingressClass('gatehouse'),
        backendService('echo', echo.port),
        opaqueSecret('ca', { 'ca.crt': root.cert }),
        { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'gatehouse', namespace: 'gatehouse' }, data: { 'use-proxy-protocol': 'true' } },
        ingress('on', { annotations: { [`${A}auth-tls-secret`]: 'default/ca' }, rules: [{ host: 'on.test', paths: [{ path: '/', service: 'echo' }] }] }),
      ),
      options: { configmap: 'gatehouse/gatehouse' },
    });
  });

  afterAll(async () => {
    await gh?.close();
    await echo?.close();
  });

  it('reads the PROXY header, then the ClientHello: the handshake asks for the certificate and the request is forwarded verified', async () => {
    const raw = netConnect({ host: '127.0.0.1', port: gh.httpsPort });
    await new Promise<void>((resolve, reject) => raw.once('connect', resolve).once('error', reject));
    raw.write('PROXY TCP4 203.0.113.8 192.0.2.10 50001 443\r\n');
    const tls = tlsConnect({ socket: raw, servername: 'on.test', rejectUnauthorized: false, cert: alice.cert, key: alice.key, ALPNProtocols: ['http/1.1'] });
    await new Promise<void>((resolve, reject) => tls.once('secureConnect', resolve).once('error', reject));
    const r = await rawExchange(tls, 'GET /x HTTP/1.1\r\nHost: on.test\r\nConnection: close\r\n\r\n');
    expect(r.status).toBe(200);
    const last = echo.received.at(-1)!;
    expect(headerValues(last.headers, 'ssl-client-verify')).toEqual(['SUCCESS']);
    expect(headerValues(last.headers, 'x-real-ip')).toEqual(['203.0.113.8']);
  });
});
