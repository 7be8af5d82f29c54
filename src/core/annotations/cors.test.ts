import { describe, expect, it } from 'vitest';
import { annotated, fuzzAnnotation } from '../../../test/support/annotation-fuzz.ts';
import { DEFAULT_CORS_HEADERS, DEFAULT_CORS_MAX_AGE, DEFAULT_CORS_METHODS, readCors } from './cors.ts';

const N = 'nginx.ingress.kubernetes.io/';
const ON = { [`${N}enable-cors`]: 'true' };

describe('cors family', () => {
  it('is off unless enable-cors is true', () => {
    expect(readCors(annotated({}))).toEqual({ ok: true, value: undefined });
    expect(readCors(annotated({ [`${N}enable-cors`]: 'false', [`${N}cors-allow-origin`]: 'https://a.example' }))).toEqual({ ok: true, value: undefined });
  });

  it("has ingress-nginx's defaults", () => {
    expect(readCors(annotated(ON))).toEqual({
      ok: true,
      value: { origins: '*', methods: DEFAULT_CORS_METHODS, headers: DEFAULT_CORS_HEADERS, exposeHeaders: '', credentials: true, maxAge: DEFAULT_CORS_MAX_AGE },
    });
    expect([DEFAULT_CORS_METHODS, DEFAULT_CORS_MAX_AGE]).toEqual(['GET, PUT, POST, DELETE, PATCH, OPTIONS', 1728000]);
    expect(DEFAULT_CORS_HEADERS).toBe('DNT,Keep-Alive,User-Agent,X-Requested-With,If-Modified-Since,Cache-Control,Content-Type,Range,Authorization');
  });

  it('reads every annotation; lists are joined with ", "', () => {
    const r = readCors(annotated({
      'gatehouse.io/enable-cors': 'True',
      [`${N}cors-allow-origin`]: 'https://A.example, http://*.b.example:8080 ,null,, myproto://c.example:1199',
      [`${N}cors-allow-methods`]: 'PUT,get ,\n  POST',
      [`${N}cors-allow-headers`]: 'X-Forwarded-For, X-app123-XPTO,x_y',
      [`${N}cors-expose-headers`]: '*, X-CustomResponseHeader',
      [`${N}cors-allow-credentials`]: 'false',
      [`${N}cors-max-age`]: '600',
    }));
    expect(r).toEqual({
      ok: true,
      value: {
        origins: ['https://a.example', 'http://*.b.example:8080', 'null', 'myproto://c.example:1199'],
        methods: 'PUT, get, POST',
        headers: 'X-Forwarded-For, X-app123-XPTO, x_y',
        exposeHeaders: '*, X-CustomResponseHeader',
        credentials: false,
        maxAge: 600,
      },
    });
  });

  it('takes `*` anywhere in the origin list as any origin, as ingress-nginx', () => {
    expect(readCors(annotated({ ...ON, [`${N}cors-allow-origin`]: 'https://a.example, *' }))).toMatchObject({ ok: true, value: { origins: '*' } });
  });

  it('reads cors-max-age as Go strconv.Atoi does (sign allowed)', () => {
    expect(readCors(annotated({ ...ON, [`${N}cors-max-age`]: '-1' }))).toMatchObject({ ok: true, value: { maxAge: -1 } });
    expect(readCors(annotated({ ...ON, [`${N}cors-max-age`]: '+5' }))).toMatchObject({ ok: true, value: { maxAge: 5 } });
  });

  it.each([
    ['enable-cors', 'yes', 'is not a boolean'],
    ['cors-allow-credentials', 'on', 'is not a boolean'],
    ['cors-allow-origin', '', 'it names none'],
    ['cors-allow-origin', 'a.example', '"a.example" is not one'],
    ['cors-allow-origin', 'https://', '"https://" is not one'],
    ['cors-allow-origin', 'HTTPS://a.example', '"HTTPS://a.example" is not one'],
    ['cors-allow-origin', 'https://a.example/path', 'is not one'],
    ['cors-allow-origin', 'https://*.*.example', 'is not one'],
    ['cors-allow-origin', 'https://a.*.example', 'is not one'],
    ['cors-allow-origin', 'https://*', 'is not one'],
    ['cors-allow-origin', 'https://a.example:port', 'is not one'],
    ['cors-allow-origin', '$http_origin', 'is not one'],
    ['cors-allow-origin', 'https://a.example, *, bad', '"bad" is not one'],
    ['cors-allow-methods', '', '"" is not one'],
    ['cors-allow-methods', 'GET;POST', 'is not one'],
    ['cors-allow-headers', 'X-A,X B', '"X B" is not one'],
    ['cors-allow-headers', '*', '"*" is not one'],
    ['cors-allow-headers', 'X-A,', '"" is not one'],
    ['cors-expose-headers', 'X-A:1', 'is not one'],
    ['cors-max-age', '1.5', 'is not a whole number of seconds'],
    ['cors-max-age', '', 'is not a whole number of seconds'],
  ])('refuses %s %j, naming the annotation and the value', (name, value, why) => {
    const r = readCors(annotated({ ...ON, [`${N}${name}`]: value }));
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.problems).toHaveLength(1);
      expect(r.problems[0]!.key).toBe(`${N}${name}`);
      expect(r.problems[0]!.message).toContain(`${N}${name}: ${JSON.stringify(value)}`);
      expect(r.problems[0]!.message).toContain(why);
    }
  });

  it('refuses bad values even when CORS is off', () => {
    expect(readCors(annotated({ [`${N}cors-allow-origin`]: 'nope' })).ok).toBe(false);
  });

  it('never throws on random values, and yields no control characters (fast-check)', () => {
    const names = ['enable-cors', 'cors-allow-origin', 'cors-allow-methods', 'cors-allow-headers', 'cors-expose-headers', 'cors-allow-credentials', 'cors-max-age'].map((n) => `${N}${n}`);
    fuzzAnnotation(names, readCors, ON);
  });
});
