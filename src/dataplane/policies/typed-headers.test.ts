import { describe, expect, it } from 'vitest';
import type { ProxyRequest, ProxyResponse } from '../proxy/proxy.ts';
import { buildSteps, RequestContext, runSteps } from './pipeline.ts';
import { typedHeadersStep } from './typed-headers.ts';

function context(upgrade = false) {
  const set: [string, string][] = [];
  const res = { setHeader: (n: string, v: string) => void set.push([n, v]) } as unknown as ProxyResponse;
  return { ctx: new RequestContext({ method: 'GET', headers: {} } as unknown as ProxyRequest, res, upgrade, 'http', 'a.test', '/app/x', '/app/x', '127.0.0.1'), set };
}

describe('typed-headers step', () => {
  const step = typedHeadersStep({ request: [['X-Team', 'payments']], response: [['X-Frame-Options', 'DENY']] });

  it('adds the request list (names lower case) for the forward and sets the response list on the answer', () => {
    const { ctx, set } = context();
    expect(step(ctx)).toBe(false);
    expect(ctx.upstreamHeaders).toEqual(['x-team', 'payments']);
    expect(set).toEqual([['X-Frame-Options', 'DENY']]);
  });

  it("keeps what earlier steps left (rewrite's X-Forwarded-Prefix), and never shares its list between requests", () => {
    const steps = buildSteps({ rewrite: { xForwardedPrefix: '/app' }, headers: { request: [['X-Team', 'payments']] } });
    const a = context();
    runSteps(steps, a.ctx);
    expect(a.ctx.upstreamHeaders).toEqual(['x-forwarded-prefix', '/app', 'x-team', 'payments']);
    const b = context();
    step(b.ctx);
    b.ctx.upstreamHeaders!.push('x-more', '1');
    const c = context();
    step(c.ctx);
    expect(c.ctx.upstreamHeaders).toEqual(['x-team', 'payments']);
  });

  it('adds a Vary to the one already set (CORS, add-headers) instead of replacing it', () => {
    const set: Record<string, string> = { vary: 'Origin' };
    const res = { setHeader: (n: string, v: string) => void (set[n.toLowerCase()] = v), getHeader: (n: string) => set[n.toLowerCase()] } as unknown as ProxyResponse;
    const ctx = new RequestContext({ method: 'GET', headers: {} } as unknown as ProxyRequest, res, false, 'http', 'a.test', '/', '/', '127.0.0.1');
    typedHeadersStep({ response: [['Vary', 'Accept-Language'], ['X-A', '1']] })(ctx);
    expect(set).toEqual({ vary: 'Origin, Accept-Language', 'x-a': '1' });
  });

  it('sets no response header on an upgrade (its 101 is the backend\'s)', () => {
    const { ctx, set } = context(true);
    step(ctx);
    expect(ctx.upstreamHeaders).toEqual(['x-team', 'payments']);
    expect(set).toEqual([]);
  });
});
