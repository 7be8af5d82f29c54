import { describe, expect, it } from 'vitest';
import type { CorsPolicy, RoutePolicies } from '../../core/model.ts';
import type { ProxyRequest, ProxyResponse } from '../proxy/proxy.ts';
import { corsStep } from './cors.ts';
import { buildSteps, RequestContext, runSteps, type Step } from './pipeline.ts';

const POLICY: CorsPolicy = { origins: ['https://app.example.com', 'https://*.example.org:8443', 'null'], methods: 'GET', headers: 'X-A', exposeHeaders: '', credentials: true, maxAge: 5 };

/** Runs `step` on a request; what it answered, and the headers it set on the response. */
function run(step: Step, headers: Record<string, string>, method = 'GET', ip = '192.0.2.1', already: Record<string, string> = {}) {
  const set: Record<string, string> = { ...already };
  const res = { setHeader: (n: string, v: string) => void (set[n.toLowerCase()] = v), getHeader: (n: string) => set[n.toLowerCase()] } as unknown as ProxyResponse;
  const ctx = new RequestContext({ method, headers } as unknown as ProxyRequest, res, false, 'http', 'a.test', '/', '/', ip);
  let answer = null as { status: number; headers: Readonly<Record<string, string>> } | null;
  ctx.respond = (status, h = {}) => void (answer = { status, headers: h });
  const answered = step(ctx);
  return { answered, answer, set };
}

describe('CORS step', () => {
  const step = corsStep(POLICY);
  const allowed = (origin: string) => run(step, { origin }).set['access-control-allow-origin'] !== undefined;

  it('matches listed origins case-insensitively, `*.` as exactly one DNS label, ports exactly', () => {
    for (const o of ['https://app.example.com', 'HTTPS://APP.EXAMPLE.COM', 'https://a.example.org:8443', 'https://x-9.example.org:8443', 'null']) expect(allowed(o), o).toBe(true);
    for (const o of ['https://app.example.com:443', 'http://app.example.com', 'https://xapp.example.com', 'https://app.example.com.evil', 'https://.example.org:8443', 'https://a.b.example.org:8443', 'https://example.org:8443', 'https://a_b.example.org:8443', 'https://a.example.org:84430', 'https://a.example.org', '']) {
      expect(allowed(o), o).toBe(false);
    }
  });

  it('answers a preflight 204 with Allow-Origin first and the origin as sent', () => {
    const r = run(step, { origin: 'https://App.example.com', 'access-control-request-method': 'GET' }, 'OPTIONS');
    expect(r.answered).toBe(true);
    expect(r.answer).toEqual({ status: 204, headers: { 'Access-Control-Allow-Origin': 'https://App.example.com', 'Access-Control-Allow-Credentials': 'true', 'Access-Control-Allow-Methods': 'GET', 'Access-Control-Allow-Headers': 'X-A', 'Access-Control-Max-Age': '5' } });
    expect(Object.keys(r.answer!.headers)[0]).toBe('Access-Control-Allow-Origin');
  });

  it('with a list, adds Vary: Origin to every answer, in or not, merged with a Vary already set', () => {
    expect(run(step, { origin: 'https://app.example.com' }).set).toMatchObject({ vary: 'Origin', 'access-control-allow-origin': 'https://app.example.com' });
    expect(run(step, { origin: 'https://other.example' }).set).toEqual({ vary: 'Origin' });
    expect(run(step, {}).set).toEqual({ vary: 'Origin' });
    expect(run(step, { origin: 'https://app.example.com' }, 'GET', '192.0.2.1', { vary: 'Accept-Encoding' }).set.vary).toBe('Accept-Encoding, Origin');
    expect(run(step, { origin: 'https://app.example.com' }, 'GET', '192.0.2.1', { vary: 'origin' }).set.vary).toBe('origin');
    // The preflight's 204 is written with the response's headers, Vary among them.
    const preflight = run(step, { origin: 'https://app.example.com', 'access-control-request-method': 'GET' }, 'OPTIONS');
    expect(preflight.answer?.status).toBe(204);
    expect(preflight.set.vary).toBe('Origin');
  });

  it('with `*`, adds no Vary: the answer does not depend on Origin', () => {
    expect(run(corsStep({ ...POLICY, origins: '*' }), { origin: 'https://app.example.com' }).set.vary).toBeUndefined();
  });

  it('lets an OPTIONS without Origin or Access-Control-Request-Method go on', () => {
    expect(run(corsStep({ ...POLICY, origins: '*' }), { 'access-control-request-method': 'GET' }, 'OPTIONS').answered).toBe(false);
    expect(run(step, { origin: 'https://app.example.com' }, 'OPTIONS').answered).toBe(false);
  });

  it('runs after the access lists: a refused client gets 403, not the preflight answer', () => {
    const policies: RoutePolicies = { accessList: { deny: ['192.0.2.0/24'] }, cors: POLICY };
    const steps = buildSteps(policies);
    const denied = run((ctx) => runSteps(steps, ctx), { origin: 'https://app.example.com', 'access-control-request-method': 'GET' }, 'OPTIONS');
    expect(denied.answer?.status).toBe(403);
    const admitted = run((ctx) => runSteps(steps, ctx), { origin: 'https://app.example.com', 'access-control-request-method': 'GET' }, 'OPTIONS', '198.51.100.1');
    expect(admitted.answer?.status).toBe(204);
  });

  it('answers a preflight before the body size step looks at Content-Length', () => {
    const steps = buildSteps({ cors: POLICY, bodySize: 1 });
    const r = run((ctx) => runSteps(steps, ctx), { origin: 'https://app.example.com', 'access-control-request-method': 'GET', 'content-length': '10' }, 'OPTIONS');
    expect(r.answer?.status).toBe(204);
  });
});
