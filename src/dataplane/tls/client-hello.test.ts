import { createServer, type AddressInfo } from 'node:net';
import { connect, type ConnectionOptions } from 'node:tls';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { readClientHello } from './client-hello.ts';

/** The first flight Node's TLS client sends (its ClientHello), caught by a plain TCP server. */
async function clientHello(o: ConnectionOptions): Promise<Buffer> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  try {
    const got = new Promise<Buffer>((resolve) => server.once('connection', (s) => s.once('data', (d: Buffer) => { resolve(d); s.destroy(); })));
    const c = connect({ host: '127.0.0.1', port: (server.address() as AddressInfo).port, rejectUnauthorized: false, ...o });
    c.on('error', () => undefined);
    const hello = await got;
    c.destroy();
    return hello;
  } finally {
    server.close();
  }
}

/** The same handshake bytes in records of at most `size` bytes (RFC 8446 §5.1 allows any split). */
function rerecord(hello: Buffer, size: number): Buffer {
  const body = hello.subarray(5, 5 + hello.readUInt16BE(3));
  const out: Buffer[] = [];
  for (let at = 0; at < body.length; at += size) {
    const part = body.subarray(at, at + size);
    out.push(Buffer.from([22, 3, 1, part.length >> 8, part.length & 0xff]), part);
  }
  return Buffer.concat(out);
}

describe('readClientHello', () => {
  it('reads the server name of real ClientHellos (TLS 1.3 and 1.2, with ALPN), lower case, trailing dot dropped', async () => {
    expect(readClientHello(await clientHello({ servername: 'Auth.Example.COM' }))).toEqual({ state: 'done', serverName: 'auth.example.com' });
    expect(readClientHello(await clientHello({ servername: 'a.test.', maxVersion: 'TLSv1.2', ALPNProtocols: ['h2', 'http/1.1'] }))).toEqual({ state: 'done', serverName: 'a.test' });
  });

  it('says null when no server name is sent', async () => {
    expect(readClientHello(await clientHello({ servername: '' }))).toEqual({ state: 'done', serverName: null });
  });

  it('asks for more bytes until the whole ClientHello is there, also spread over several records', async () => {
    const hello = await clientHello({ servername: 'split.test' });
    for (const data of [hello, rerecord(hello, 7), rerecord(hello, 100)]) {
      for (let n = 0; n < data.length; n++) expect(readClientHello(data.subarray(0, n)).state, `${n} of ${data.length}`).toBe('incomplete');
      expect(readClientHello(data)).toEqual({ state: 'done', serverName: 'split.test' });
    }
  });

  it('says invalid for what is not a TLS handshake (plain HTTP, an alert)', () => {
    expect(readClientHello(Buffer.from('GET / HTTP/1.1\r\n'))).toEqual({ state: 'invalid' });
    expect(readClientHello(Buffer.from([21, 3, 3, 0, 2, 2, 40]))).toEqual({ state: 'invalid' });
  });

  it('never throws on random or truncated bytes', async () => {
    const hello = await clientHello({ servername: 'fuzz.test' });
    fc.assert(fc.property(fc.uint8Array({ maxLength: 600 }), fc.nat(hello.length), fc.nat(255), (random, cut, byte) => {
      readClientHello(random);
      readClientHello(Buffer.concat([hello.subarray(0, 5), random]));
      const mutated = Buffer.from(hello);
      mutated[cut % mutated.length] = byte;
      const r = readClientHello(mutated);
      if (r.state === 'done' && r.serverName !== null) expect(r.serverName).toMatch(/^[\x21-\x7e]+$/);
    }), { numRuns: 3000 });
  });
});
