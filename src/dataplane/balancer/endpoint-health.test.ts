import { describe, expect, it } from 'vitest';
import type { Backend, Endpoint, PassiveHealthPolicy } from '../../core/model.ts';
import { EjectionTable } from '../shared/ejection-table.ts';
import { EndpointHealth, isFailure } from './endpoint-health.ts';
import { Picking } from './picking.ts';
import { RoundRobin } from './round-robin.ts';

const passive: PassiveHealthPolicy = { consecutiveFailures: 2, failures: ['error', 'http_5xx'], baseEjectionMs: 60_000, maxEjectionMs: 60_000, maxEjectionPercent: 50 };
const eps: Endpoint[] = [1, 2, 3, 4].map((i) => ({ address: `10.0.0.${i}`, port: 80 }));
const backend = (health?: Backend['health']): Backend => ({ id: 'b', namespace: 'ns', service: 's', port: 80, target: { type: 'endpoints', portName: '', targetPort: 80 }, ...(health ? { health } : {}) });
const ctx = { url: '/', host: 'h', clientIp: '192.0.2.1', https: false, headers: {}, setCookie: null };

function setup(health?: Backend['health']) {
  const panics: boolean[] = [];
  const h = new EndpointHealth(new EjectionTable(EjectionTable.create(64), 0), (_b, panic) => panics.push(panic));
  h.setBackends({ b: backend(health) });
  h.setEndpoints({ b: eps });
  return { h, panics };
}

describe('EndpointHealth (what a request avoids)', () => {
  it('without health config or verdicts excludes nothing', () => {
    const { h } = setup();
    h.report('b', eps[0]!, 'error');
    h.report('b', eps[0]!, 'error');
    expect(h.down('b', eps)).toBeUndefined();
  });

  it('excludes the endpoints the active checks put down; every one down: none (panic mode), said once per transition', () => {
    const { h, panics } = setup();
    h.setActive({ b: ['10.0.0.2|80'] });
    expect([...h.down('b', eps)!]).toEqual([eps[1]]);
    h.setActive({ b: eps.map((e) => `${e.address}|${e.port}`) });
    expect(h.down('b', eps)).toBeUndefined();
    expect(h.down('b', eps)).toBeUndefined();
    h.setActive({});
    expect(h.down('b', eps)).toBeUndefined();
    expect(panics).toEqual([true, false]);
  });

  it('counts the policy\'s failures in a row and ejects, up to the max share (50 % of 4: 2)', () => {
    const { h } = setup({ passive });
    for (const e of eps) {
      h.report('b', e, 502);
      h.report('b', e, 404); // a success: starts the count again
      h.report('b', e, 'timeout'); // not counted by this policy, and no success either
      h.report('b', e, 'error');
    }
    expect(h.down('b', eps)).toBeUndefined();
    for (const e of eps) h.report('b', e, 500);
    expect([...h.down('b', eps)!]).toEqual([eps[0], eps[1]]);
  });

  it('Picking skips the endpoints down, on every try, and reports outcomes to passive health', () => {
    const { h } = setup({ passive });
    h.setActive({ b: ['10.0.0.1|80', '10.0.0.3|80'] });
    const p = new Picking(new RoundRobin(), eps, ctx, h, 'b');
    const seen = [p.next(), p.next(), p.next(), p.next()];
    expect(seen).toEqual([eps[1], eps[3], eps[1], eps[3]]);
  });

  it('isFailure: statuses by the policy, kinds it does not name are no verdict', () => {
    expect([isFailure(passive, 503), isFailure(passive, 200), isFailure(passive, 'error'), isFailure(passive, 'timeout')]).toEqual([true, false, true, null]);
    const only = { ...passive, failures: ['http_503'] as const };
    expect([isFailure(only, 503), isFailure(only, 500)]).toEqual([true, false]);
  });
});
