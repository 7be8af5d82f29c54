// A minimal HTTP/2 client over TLS that reports the frames of its one stream, for tests about how
// an answer is framed (node:http2's client API shows the answer, never its frames). It sends the
// preface, an empty SETTINGS, acknowledges the server's, and one GET as a HEADERS frame whose
// header block is HPACK literals (no Huffman, no indexing).

import { connect } from 'node:tls';

export interface Frame {
  type: 'DATA' | 'HEADERS' | 'RST_STREAM' | 'other';
  flags: number;
  length: number;
}

export const END_STREAM = 0x1;
const TYPES: Record<number, Frame['type']> = { 0: 'DATA', 1: 'HEADERS', 3: 'RST_STREAM' };

function frame(type: number, flags: number, stream: number, payload: Buffer): Buffer {
  const head = Buffer.alloc(9);
  head.writeUIntBE(payload.length, 0, 3);
  head[3] = type;
  head[4] = flags;
  head.writeUInt32BE(stream, 5);
  return Buffer.concat([head, payload]);
}

/** An HPACK "literal header field without indexing" with a static-table name (index < 15). */
function literal(nameIndex: number, value: string): Buffer {
  const v = Buffer.from(value, 'latin1');
  if (v.length > 126) throw new Error('value too long for this encoder');
  return Buffer.concat([Buffer.from([nameIndex, v.length]), v]);
}

/** GET `path` on `authority` at 127.0.0.1:`port` (SNI `authority`); the frames of stream 1 until it ends. */
export function h2Frames(port: number, o: { authority: string; path: string; ca: string }): Promise<Frame[]> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, servername: o.authority, ca: o.ca, ALPNProtocols: ['h2'] });
    const frames: Frame[] = [];
    let buffered = Buffer.alloc(0);
    const timer = setTimeout(() => fail(new Error(`the stream did not end; frames so far: ${JSON.stringify(frames)}`)), 10_000);
    const fail = (err: Error) => {
      clearTimeout(timer);
      socket.destroy();
      reject(err);
    };
    socket.once('error', fail);
    socket.once('secureConnect', () => {
      // :method GET (static 2), :scheme https (7) indexed; :path (4) and :authority (1) literal.
      const block = Buffer.concat([Buffer.from([0x82, 0x87]), literal(4, o.path), literal(1, o.authority)]);
      socket.write(Buffer.concat([Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1'), frame(4, 0, 0, Buffer.alloc(0)), frame(1, 0x4 | END_STREAM, 1, block)]));
    });
    socket.on('data', (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      while (buffered.length >= 9) {
        const length = buffered.readUIntBE(0, 3);
        if (buffered.length < 9 + length) break;
        const type = buffered[3]!;
        const flags = buffered[4]!;
        const stream = buffered.readUInt32BE(5) & 0x7fffffff;
        buffered = buffered.subarray(9 + length);
        if (type === 4 && (flags & 0x1) === 0) socket.write(frame(4, 0x1, 0, Buffer.alloc(0)));
        if (stream !== 1) continue;
        const f: Frame = { type: TYPES[type] ?? 'other', flags, length };
        frames.push(f);
        if (f.type === 'RST_STREAM' || (flags & END_STREAM) !== 0) {
          clearTimeout(timer);
          socket.destroy();
          return resolve(frames);
        }
      }
    });
  });
}
