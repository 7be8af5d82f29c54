// Which stored certificates the ACME manager keeps: type, parse, key, names (exact or one-label
// wildcard, subjectAltName only), expiry, and renewal 30 days ahead (a third of the lifetime for
// short-lived certificates).

import { beforeAll, describe, expect, it } from 'vitest';
import { createCa, mismatched, tlsSecret, type TestCa } from '../../../test/support/certs.ts';
import type { KubeObject } from '../../core/snapshot.ts';
import { certificateState, pemState, RENEW_BEFORE_MS, renewalTime } from './certificate-state.ts';

const DAY = 86_400_000;

describe('certificate state', () => {
  let ca: TestCa;
  const now = Date.now();

  beforeAll(async () => {
    ca = await createCa();
  });

  it('renews 30 days before expiry, or with a third of the lifetime left when that is shorter', () => {
    expect(renewalTime(0, 90 * DAY)).toBe(60 * DAY);
    expect(renewalTime(0, 365 * DAY)).toBe(365 * DAY - RENEW_BEFORE_MS);
    expect(renewalTime(0, 6 * DAY)).toBe(4 * DAY);
    expect(renewalTime(0, 6000)).toBe(4000);
  });

  it('keeps a certificate covering every name (exactly or by wildcard) that is not due', async () => {
    const pair = await ca.issue({ dnsNames: ['a.example', '*.b.example'], notBefore: new Date(now - DAY), notAfter: new Date(now + 89 * DAY) });
    const state = pemState(pair.cert, pair.key, ['a.example', 'x.b.example'], now);
    expect(state).toEqual({ ok: true, notAfter: expect.any(Number), renewAt: expect.any(Number) });
    expect(certificateState(tlsSecret('s', pair) as unknown as KubeObject, ['a.example'], now).ok).toBe(true);
  });

  it.each([
    ['a name it does not cover', ['a.example', 'c.example'], 'the certificate does not cover c.example'],
    ['a name two labels under the wildcard', ['x.y.b.example'], 'the certificate does not cover x.y.b.example'],
  ])('orders for %s', async (_what, names, reason) => {
    const pair = await ca.issue({ dnsNames: ['a.example', '*.b.example'] });
    expect(pemState(pair.cert, pair.key, names, now)).toEqual({ ok: false, reason });
  });

  it('orders when the certificate is due (10 days left of 90), expired, or its key does not match', async () => {
    const due = await ca.issue({ dnsNames: ['a.example'], notBefore: new Date(now - 80 * DAY), notAfter: new Date(now + 10 * DAY) });
    expect(pemState(due.cert, due.key, ['a.example'], now)).toEqual({ ok: false, reason: expect.stringContaining('due for renewal') });
    const old = await ca.issue({ dnsNames: ['a.example'], notBefore: new Date(now - 10 * DAY), notAfter: new Date(now - DAY) });
    expect(pemState(old.cert, old.key, ['a.example'], now)).toEqual({ ok: false, reason: expect.stringContaining('expired') });
    const other = await ca.issue({ dnsNames: ['a.example'] });
    const bad = mismatched(due, other);
    expect(pemState(bad.cert, bad.key, ['a.example'], now)).toEqual({ ok: false, reason: 'tls.key is not the key of tls.crt' });
  });

  it('orders for a missing Secret, another type, or missing keys', async () => {
    const pair = await ca.issue({ dnsNames: ['a.example'] });
    expect(certificateState(undefined, ['a.example'], now)).toEqual({ ok: false, reason: 'the Secret does not exist' });
    expect(certificateState(tlsSecret('s', pair, { type: 'Opaque' }) as unknown as KubeObject, ['a.example'], now).ok).toBe(false);
    expect(certificateState(tlsSecret('s', { cert: pair.cert }) as unknown as KubeObject, ['a.example'], now)).toEqual({ ok: false, reason: 'the Secret lacks tls.crt or tls.key' });
    expect(certificateState(tlsSecret('s', { cert: 'x', key: 'y' }) as unknown as KubeObject, ['a.example'], now)).toEqual({ ok: false, reason: 'tls.crt does not parse' });
  });
});
