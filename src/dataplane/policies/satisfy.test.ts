// The access-phase contract every authentication step follows (satisfy.ts), on a bare request
// context: under all a refusal answers at once; under any the first pass admits, a refusal is
// kept (a 401 over a 403) and answered by satisfyAnyStep after the last step.

import { describe, expect, it } from 'vitest';
import type { RequestContext } from './pipeline.ts';
import { accessDenied, accessPassed, authRequired, satisfyAnyStep } from './satisfy.ts';

function context() {
  const answered: [number, unknown][] = [];
  const ctx = { accessAdmitted: false, accessDenial: null, respond: (status: number, headers?: unknown) => void answered.push([status, headers]) } as unknown as RequestContext;
  return { ctx, answered };
}

const CHALLENGE = { 'WWW-Authenticate': 'Basic realm="x"' };

describe('satisfy', () => {
  it('all: a refusal answers at once; a pass admits nothing, so every authentication still runs', () => {
    const { ctx, answered } = context();
    expect(accessPassed(ctx, 'all')).toBe(false);
    expect(authRequired(ctx)).toBe(true);
    expect(accessDenied(ctx, 'all', 403)).toBe(true);
    expect(answered).toEqual([[403, undefined]]);
  });

  it('any: the access list refuses, the password passes: admitted, the kept refusal dropped', () => {
    const { ctx, answered } = context();
    expect(accessDenied(ctx, 'any', 403)).toBe(false);
    expect(authRequired(ctx)).toBe(true);
    expect(accessPassed(ctx, 'any')).toBe(false);
    expect(authRequired(ctx)).toBe(false);
    expect(satisfyAnyStep(ctx)).toBe(false);
    expect(answered).toEqual([]);
  });

  it("any: failing every step answers the authentication's 401, kept over a 403 whichever came first", () => {
    for (const order of [[403, 401], [401, 403]] as const) {
      const { ctx, answered } = context();
      for (const status of order) expect(accessDenied(ctx, 'any', status, status === 401 ? CHALLENGE : undefined)).toBe(false);
      expect(satisfyAnyStep(ctx)).toBe(true);
      expect(answered).toEqual([[401, CHALLENGE]]);
    }
  });

  it('any: no step refused or admitted (a deny list the client is not in, nothing else): the request goes on', () => {
    const { ctx, answered } = context();
    expect(satisfyAnyStep(ctx)).toBe(false);
    expect(answered).toEqual([]);
  });
});
