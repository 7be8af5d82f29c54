import { describe, expect, it } from 'vitest';
import type { ProxyRequest, ProxyResponse } from '../proxy/proxy.ts';
import { RequestContext, runSteps, type Step } from './pipeline.ts';

function context(): RequestContext {
  return new RequestContext({ method: 'GET', headers: {} } as unknown as ProxyRequest, {} as ProxyResponse, false, 'http', 'a.test', '/', '/', '192.0.2.1');
}

describe('runSteps', () => {
  it('stays synchronous while every step is, and stops at the first that answers', () => {
    const ran: string[] = [];
    const step = (name: string, answers: boolean): Step => () => (ran.push(name), answers);
    expect(runSteps([step('a', false), step('b', true), step('c', false)], context())).toBe(true);
    expect(ran).toEqual(['a', 'b']);
    expect(runSteps([step('d', false)], context())).toBe(false);
  });

  it('goes on with the steps after one that waits, once it settles, and stops when it answered', async () => {
    const ran: string[] = [];
    const sync = (name: string): Step => () => (ran.push(name), false);
    const later = (name: string, answers: boolean): Step => () => Promise.resolve().then(() => (ran.push(name), answers));
    const going = runSteps([sync('a'), later('b', false), sync('c'), later('d', false)], context());
    expect(ran).toEqual(['a']);
    await expect(going).resolves.toBe(false);
    expect(ran).toEqual(['a', 'b', 'c', 'd']);
    ran.length = 0;
    await expect(runSteps([later('x', true), sync('y')], context())).resolves.toBe(true);
    expect(ran).toEqual(['x']);
  });

  it('passes a rejection on to the caller (the worker answers 500)', async () => {
    const failing: Step = () => Promise.reject(new Error('auth server unreachable'));
    await expect(runSteps([failing], context())).rejects.toThrow('auth server unreachable');
  });
});
