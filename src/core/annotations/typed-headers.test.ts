import { describe, expect, it } from 'vitest';
import { annotated, fuzzAnnotation } from '../../../test/support/annotation-fuzz.ts';
import { readTypedHeaders } from './typed-headers.ts';

const REQ = 'gatehouse.io/request-headers';
const RES = 'gatehouse.io/response-headers';

describe('typed headers family', () => {
  it('is absent when neither list is set; ingress-nginx\'s prefix is not read', () => {
    expect(readTypedHeaders(annotated({}))).toEqual({ ok: true, value: undefined });
    expect(readTypedHeaders(annotated({ 'nginx.ingress.kubernetes.io/request-headers': 'X-A: 1' }))).toEqual({ ok: true, value: undefined });
  });

  it('reads "Name: value" lines of a block scalar: names as written, values trimmed, blank lines skipped', () => {
    const r = readTypedHeaders(annotated({
      [REQ]: 'X-Team: payments\n\n  X-Trace-Sampled:1  \nx-empty:\nX-Colons: a:b: c\n',
      [RES]: 'X-Frame-Options: DENY\nCache-Control: no-store, max-age=0\nSet-Cookie: a=1; Path=/\nX-Tab: a\tb\n',
    }));
    expect(r).toEqual({
      ok: true,
      value: {
        request: [['X-Team', 'payments'], ['X-Trace-Sampled', '1'], ['x-empty', ''], ['X-Colons', 'a:b: c']],
        response: [['X-Frame-Options', 'DENY'], ['Cache-Control', 'no-store, max-age=0'], ['Set-Cookie', 'a=1; Path=/'], ['X-Tab', 'a\tb']],
      },
    });
  });

  it('takes CRLF line ends', () => {
    expect(readTypedHeaders(annotated({ [RES]: 'X-A: 1\r\nX-B: 2\r\n' }))).toEqual({ ok: true, value: { response: [['X-A', '1'], ['X-B', '2']] } });
  });

  it.each([
    [REQ, 'no colon here', 'is not "Name: value"'],
    [REQ, ': value', 'is not "Name: value"'],
    [REQ, 'X A: 1', 'is not "Name: value"'],
    [REQ, 'X-A : 1', 'is not "Name: value"'],
    [REQ, 'X(A): 1', 'is not "Name: value"'],
    [REQ, 'X-A: a\rb', 'characters other than printable ASCII'],
    [REQ, 'X-A: a\0b', 'characters other than printable ASCII'],
    [RES, 'X-A: caf\u00e9', 'characters other than printable ASCII'],
    [RES, `X-A: ${'a'.repeat(4097)}`, 'longer than 4096 characters'],
    [REQ, 'X-A: 1\nx-a: 2', 'sets x-a a second time'],
    [REQ, 'Host: other.example', 'sets Host, which is set by upstream-vhost'],
    [REQ, 'X-Forwarded-For: 1.2.3.4', 'sets X-Forwarded-For, which is set by the proxy from the connection'],
    [REQ, 'x-forwarded-anything: 1', 'set by the proxy'],
    [REQ, 'X-Real-IP: 1.2.3.4', 'set by the proxy'],
    [REQ, 'Connection: close', 'belongs to the connection or its framing'],
    [RES, 'Transfer-Encoding: chunked', 'belongs to the connection or its framing'],
    [RES, 'Content-Length: 5', 'belongs to the connection or its framing'],
    [RES, 'Keep-Alive: timeout=5', 'belongs to the connection'],
    [RES, 'Upgrade: h2c', 'belongs to the connection'],
    [REQ, 'TE: trailers', 'belongs to the connection'],
    [REQ, 'Expect: 100-continue', 'belongs to the connection'],
    [REQ, '', 'names no header'],
    [RES, '\n  \n', 'names no header'],
  ])('refuses %s %j, naming the annotation and the line', (key, value, why) => {
    const r = readTypedHeaders(annotated({ [key]: value }));
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.problems.length).toBeGreaterThan(0);
      expect(r.problems[0]!.key).toBe(key);
      expect(r.problems[0]!.message).toContain(`${key}: `);
      expect(r.problems[0]!.message).toContain(why);
    }
  });

  it('allows Host and the forwarding headers in the response list', () => {
    expect(readTypedHeaders(annotated({ [RES]: 'X-Forwarded-For: x\nX-Real-IP: y' }))).toMatchObject({ ok: true });
  });

  it('refuses more than 100 headers', () => {
    const many = Array.from({ length: 101 }, (_, i) => `X-H${i}: ${i}`).join('\n');
    expect(readTypedHeaders(annotated({ [RES]: many }))).toEqual({ ok: false, problems: [{ key: RES, message: `${RES}: 101 headers; at most 100 are allowed` }] });
  });

  it('never throws on random values, and yields no control characters but tabs (fast-check)', () => {
    fuzzAnnotation([REQ, RES], readTypedHeaders);
  });
});
