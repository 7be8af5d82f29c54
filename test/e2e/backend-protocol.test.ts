// backend-protocol HTTPS and H2C end to end, and proxy-ssl-*: HTTPS backends are not verified by
// default; with proxy-ssl-verify on, the right CA serves and a wrong CA or name answers 502 with
// no request reaching the backend; proxy-ssl-secret's tls.crt/tls.key is presented to a backend
// that requires a client certificate; proxy-ssl-server-name sends proxy-ssl-name as SNI; a missing
// or unusable Secret answers 502 with a condition. H2C backends get HTTP/2 (prior knowledge) for
// HTTP/1.1 and HTTP/2 clients alike. Two Ingresses sending one Service port different protocols
// each get their own.

import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createH2cServer, type Http2Server, type Http2ServerRequest, type Http2ServerResponse } from 'node:http2';
import { createServer as createHttpsServer } from 'node:https';
import { createServer as createNetServer, type AddressInfo, type Server, type Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket, WebSocketServer } from 'ws';
import { createCa, h2Request, h2Session, type KeyPair } from '../support/certs.ts';
import { backendService, ingress, ingressClass, manifest, startGatehouse, type Gatehouse } from '../support/harness.ts';

interface Seen {
  readonly server: string;
  readonly httpVersion: string;
  readonly method: string;
  readonly url: string;
  readonly authority: string;
  readonly bodyLength: number;
  readonly clientCert: string | null;
  readonly sni: string | null;
  readonly headers: Record<string, unknown>;
  /** The client port of the connection it came on (Gatehouse's side): the same for a kept-alive connection. */
  readonly remotePort: number;
}

interface Upstream {
  readonly port: number;
  readonly seen: Seen[];
  close(): Promise<void>;
}

/** Answers JSON saying what it got: HTTP version, :authority/Host, body length, client certificate, SNI. */
function handler(server: string, seen: Seen[]) {
  return (req: IncomingMessage | Http2ServerRequest, res: ServerResponse | Http2ServerResponse) => {
    let bodyLength = 0;
    req.on('data', (c: Buffer) => (bodyLength += c.length));
    req.on('end', () => {
      const socket = req.socket as TLSSocket;
      const peer = typeof socket.getPeerCertificate === 'function' ? socket.getPeerCertificate() : null;
      const s: Seen = {
        server,
        httpVersion: req.httpVersion,
        method: req.method ?? '',
        url: req.url ?? '',
        authority: (req.httpVersionMajor === 2 ? (req as Http2ServerRequest).authority : req.headers.host) ?? '',
        bodyLength,
        clientCert: peer && typeof peer.subject?.CN === 'string' ? peer.subject.CN : null,
        sni: typeof (socket as { servername?: unknown }).servername === 'string' ? (socket.servername as string) : null,
        headers: { ...req.headers },
        remotePort: socket.remotePort ?? 0,
      };
      seen.push(s);
      (res as ServerResponse).writeHead(200, { 'content-type': 'application/json', 'x-upstream': server });
      res.end(JSON.stringify(s));
    });
  };
}

function listening(server: Server | Http2Server, seen: Seen[]): Promise<Upstream> {
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () =>
      resolve({
        port: (server.address() as AddressInfo).port,
        seen,
        close: () =>
          new Promise<void>((r) => {
            server.close(() => r());
            (server as { closeAllConnections?: () => void }).closeAllConnections?.();
          }),
      }),
    ),
  );
}

/** Also a WebSocket server: each message comes back as `<name>:<message>`. */
function httpsUpstream(name: string, pair: KeyPair, clientCa?: string): Promise<Upstream> {
  const seen: Seen[] = [];
  // With clientCa, a client certificate that CA signed is required (the handshake fails without).
  const server = createHttpsServer({ cert: pair.cert, key: pair.key, ...(clientCa ? { ca: clientCa, requestCert: true, rejectUnauthorized: true } : {}) }, handler(name, seen));
  const wss = new WebSocketServer({ noServer: true });
  server.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) =>
    wss.handleUpgrade(req, socket, head, (ws) => ws.on('message', (data) => ws.send(`${name}:${String(data)}`))),
  );
  return listening(server as unknown as Server, seen);
}

function h2cUpstream(name: string): Promise<Upstream> {
  const seen: Seen[] = [];
  return listening(createH2cServer(handler(name, seen)), seen);
}

/** HTTP/1.1 and h2c (prior knowledge) on one port: the connection preface decides. */
function dualUpstream(name: string): Promise<Upstream> {
  const seen: Seen[] = [];
  const h1 = createHttpServer(handler(name, seen));
  const h2 = createH2cServer(handler(name, seen));
  const server = createNetServer((socket) => {
    socket.once('data', (first: Buffer) => {
      socket.pause();
      socket.unshift(first);
      // node:http2 reads what is buffered itself (on the next tick); node:http needs the flow back.
      if (first.toString('latin1').startsWith('PRI * HTTP/2.0')) return void h2.emit('connection', socket);
      h1.emit('connection', socket);
      socket.resume();
    });
  });
  return listening(server, seen);
}

function secret(name: string, data: Record<string, string>): Record<string, unknown> {
  return { apiVersion: 'v1', kind: 'Secret', metadata: { name, namespace: 'default' }, type: 'Opaque', data: Object.fromEntries(Object.entries(data).map(([k, v]) => [k, Buffer.from(v).toString('base64')])) };
}

function route(name: string, host: string, svc: string, annotations: Record<string, string> = {}) {
  return ingress(name, { annotations, rules: [{ host, paths: [{ path: '/', pathType: 'Prefix', service: svc }] }] });
}

const A = 'nginx.ingress.kubernetes.io/';

describe('backend-protocol HTTPS and H2C, proxy-ssl-*', () => {
  let secure: Upstream;
  let mtls: Upstream;
  let h2c: Upstream;
  let dual: Upstream;
  let gh: Gatehouse;
  let backendCaPem: string;

  beforeAll(async () => {
    const [backendCa, otherCa, clientCa] = await Promise.all([createCa('Backend CA'), createCa('Other CA'), createCa('Client CA')]);
    backendCaPem = backendCa.cert;
    // Named as the default proxy-ssl-name of Services `secure` and `mtls` in `default`.
    const [securePair, mtlsPair, clientPair] = await Promise.all([
      backendCa.issue({ dnsNames: ['secure.default.svc', 'secure.example'] }),
      backendCa.issue({ dnsNames: ['mtls.default.svc'] }),
      clientCa.issue({ dnsNames: ['gatehouse-client'], usage: 'client' }),
    ]);
    [secure, mtls, h2c, dual] = await Promise.all([httpsUpstream('secure', securePair), httpsUpstream('mtls', mtlsPair, clientCa.cert), h2cUpstream('h2c'), dualUpstream('dual')]);
    const verify = { [`${A}backend-protocol`]: 'HTTPS', [`${A}proxy-ssl-verify`]: 'on', [`${A}proxy-ssl-secret`]: 'default/backend-ca' };
    gh = await startGatehouse({
      manifests: { 'rotating.yaml': manifest(secret('rotating', { 'ca.crt': otherCa.cert })), 'manifests.yaml': manifest(
        route('rotating', 'rotating.test', 'secure', { ...verify, [`${A}proxy-ssl-secret`]: 'default/rotating' }),
        ingressClass('gatehouse'),
        backendService('secure', secure.port),
        backendService('mtls', mtls.port),
        backendService('h2c', h2c.port),
        backendService('dual', dual.port),
        route('noverify', 'noverify.test', 'secure', { [`${A}backend-protocol`]: 'https' }),
        route('verify', 'verify.test', 'secure', verify),
        route('wrong-ca', 'wrong-ca.test', 'secure', { ...verify, [`${A}proxy-ssl-secret`]: 'default/other-ca' }),
        route('wrong-name', 'wrong-name.test', 'secure', { ...verify, [`${A}proxy-ssl-name`]: 'other.example' }),
        route('sni', 'sni.test', 'secure', { ...verify, [`${A}proxy-ssl-name`]: 'secure.example', [`${A}proxy-ssl-server-name`]: 'on' }),
        route('mtls', 'mtls.test', 'mtls', { ...verify, [`${A}proxy-ssl-secret`]: 'default/client' }),
        route('no-client-cert', 'no-client-cert.test', 'mtls', verify),
        route('missing', 'missing.test', 'secure', { [`gatehouse.io/backend-protocol`]: 'HTTPS', [`gatehouse.io/proxy-ssl-secret`]: 'default/nope' }),
        route('no-ca', 'no-ca.test', 'secure', { ...verify, [`${A}proxy-ssl-secret`]: 'default/client-only' }),
        route('h2c', 'h2c.test', 'h2c', { [`${A}backend-protocol`]: 'H2C' }),
        route('dual-http', 'dual-http.test', 'dual'),
        route('dual-h2c', 'dual-h2c.test', 'dual', { [`${A}backend-protocol`]: 'h2c' }),
        secret('backend-ca', { 'ca.crt': backendCa.cert }),
        secret('other-ca', { 'ca.crt': otherCa.cert }),
        secret('client', { 'ca.crt': backendCa.cert, 'tls.crt': clientPair.cert, 'tls.key': clientPair.key }),
        secret('client-only', { 'tls.crt': clientPair.cert, 'tls.key': clientPair.key }),
      ) },
    });
  });

  afterAll(async () => {
    await gh?.close();
    await Promise.all([secure, mtls, h2c, dual].map((u) => u?.close()));
  });

  const get = (host: string, path = '/') => gh.request(path, { headers: { host } });
  const json = (text: string) => JSON.parse(text) as Seen;

  it('HTTPS without proxy-ssl-verify: the backend certificate is not checked (ingress-nginx default)', async () => {
    const r = await get('noverify.test', '/plain?x=1');
    expect(r.status).toBe(200);
    expect(json(r.text)).toMatchObject({ server: 'secure', httpVersion: '1.1', url: '/plain?x=1', authority: 'noverify.test', clientCert: null, sni: null });
  });

  it('proxy-ssl-verify on with the right CA and the Service DNS name: 200', async () => {
    const r = await get('verify.test');
    expect(r.status).toBe(200);
    expect(json(r.text).server).toBe('secure');
  });

  it('proxy-ssl-verify on with a wrong CA, or a name the certificate lacks: 502, and no request reaches the backend', async () => {
    const before = secure.seen.length;
    expect((await get('wrong-ca.test')).status).toBe(502);
    expect((await get('wrong-name.test')).status).toBe(502);
    expect(secure.seen.length).toBe(before);
  });

  it('proxy-ssl-server-name on sends proxy-ssl-name as SNI; off sends none to an IP endpoint', async () => {
    expect(json((await get('sni.test')).text).sni).toBe('secure.example');
    expect(json((await get('verify.test')).text).sni).toBeNull();
  });

  it("presents proxy-ssl-secret's tls.crt/tls.key to a backend that requires a client certificate; without one, 502", async () => {
    const r = await get('mtls.test');
    expect(r.status).toBe(200);
    expect(json(r.text)).toMatchObject({ server: 'mtls', clientCert: 'gatehouse-client' });
    expect((await get('no-client-cert.test')).status).toBe(502);
  });

  it('a missing Secret, or one without ca.crt while verify is on: 502 (never unverified) and a condition', async () => {
    const before = secure.seen.length;
    expect((await get('missing.test')).status).toBe(502);
    expect((await get('no-ca.test')).status).toBe(502);
    expect(secure.seen.length).toBe(before);
    const codes = gh.controller.conditions().map((c) => [c.ref.name, c.code, c.field]);
    expect(codes).toContainEqual(['missing', 'GH_PROXY_SSL_SECRET_NOT_FOUND', 'metadata.annotations["gatehouse.io/proxy-ssl-secret"]']);
    expect(codes).toContainEqual(['no-ca', 'GH_PROXY_SSL_SECRET_INVALID', 'metadata.annotations["nginx.ingress.kubernetes.io/proxy-ssl-secret"]']);
  });

  it('WebSocket upgrades go over TLS to an HTTPS backend, verified as the route says', async () => {
    const talk = (host: string) =>
      new Promise<string>((resolve, reject) => {
        const ws = new WebSocket(`ws://127.0.0.1:${gh.httpPort}/socket`, { headers: { host } });
        ws.on('open', () => ws.send('hi'));
        ws.on('message', (data) => {
          resolve(String(data));
          ws.close();
        });
        ws.on('unexpected-response', (_req, res) => reject(new Error(`status ${res.statusCode}`)));
        ws.on('error', reject);
      });
    expect(await talk('verify.test')).toBe('secure:hi');
    expect(await talk('mtls.test')).toBe('mtls:hi');
    await expect(talk('wrong-ca.test')).rejects.toThrow('status 502');
  });

  it('a changed proxy-ssl-secret is used without a restart', async () => {
    expect((await get('rotating.test')).status).toBe(502);
    await gh.write('rotating.yaml', manifest(secret('rotating', { 'ca.crt': backendCaPem })));
    expect((await get('rotating.test')).status).toBe(200);
  });

  it('an Ingress edited to backend-protocol HTTPS and back reaches its backend the new way at once (a table diff that changes upstream settings)', async () => {
    await gh.write('switch.yaml', manifest(route('switch', 'switch.test', 'secure')));
    // Plain HTTP to a TLS-only upstream: the upstream cannot answer it.
    expect((await get('switch.test')).status).toBe(502);
    // A TLS configuration of its own (SNI on): the worker must take it among those in use, or each
    // request would get a pool of its own, closed after it, and a new connection.
    await gh.write('switch.yaml', manifest(route('switch', 'switch.test', 'secure', { [`${A}backend-protocol`]: 'HTTPS', [`${A}proxy-ssl-verify`]: 'on', [`${A}proxy-ssl-secret`]: 'default/backend-ca', [`${A}proxy-ssl-server-name`]: 'on' })));
    for (let i = 0; i < 6; i++) expect((await get('switch.test', `/switch-${i}`)).status).toBe(200);
    const ports = secure.seen.filter((x) => x.url.startsWith('/switch-')).map((x) => x.remotePort);
    expect(ports).toHaveLength(6);
    // Kept-alive: at most one connection per worker these requests reached.
    expect(new Set(ports).size).toBeLessThanOrEqual(gh.options.workers);
    await gh.write('switch.yaml', manifest(route('switch', 'switch.test', 'secure', { [`${A}backend-protocol`]: 'HTTPS', [`${A}proxy-ssl-verify`]: 'on', [`${A}proxy-ssl-secret`]: 'default/other-ca' })));
    expect((await get('switch.test')).status).toBe(502);
    await gh.remove('switch.yaml');
  });

  it('H2C: a plain HTTP/1.1 request reaches the backend over HTTP/2, body both ways, Host as :authority', async () => {
    const body = Buffer.alloc(200_000, 7);
    const r = await gh.request('/upload?q=1', { method: 'POST', headers: { host: 'h2c.test', 'content-type': 'application/octet-stream' }, body });
    expect(r.status).toBe(200);
    expect(r.headers['x-upstream']).toBe('h2c');
    const seen = json(r.text);
    expect(seen).toMatchObject({ server: 'h2c', httpVersion: '2.0', method: 'POST', url: '/upload?q=1', authority: 'h2c.test', bodyLength: body.length });
    expect(seen.headers['x-forwarded-proto']).toBe('http');
    expect(seen.headers.connection).toBeUndefined();
  });

  it('H2C: an HTTP/2 client over the HTTPS listener too', async () => {
    const session = await h2Session(gh.httpsPort, { servername: 'h2c.test' });
    try {
      const r = await h2Request(session, { ':method': 'GET', ':path': '/via-h2', ':authority': 'h2c.test' });
      expect(r.status).toBe(200);
      expect(JSON.parse(String(r.body))).toMatchObject({ httpVersion: '2.0', url: '/via-h2', authority: 'h2c.test' });
    } finally {
      session.close();
    }
  });

  it('two Ingresses, one Service port, two protocols: each route keeps its own, the backend stays one', async () => {
    expect(json((await get('dual-http.test')).text).httpVersion).toBe('1.1');
    expect(json((await get('dual-h2c.test')).text).httpVersion).toBe('2.0');
    expect(Object.keys(gh.controller.table()!.backends).filter((id) => id.startsWith('default/dual'))).toEqual(['default/dual:80']);
  });
});
