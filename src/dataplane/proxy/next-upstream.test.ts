import { describe, expect, it } from 'vitest';
import { DEFAULT_FORWARD_POLICY } from '../../core/annotations/forward-policy.ts';
import type { ForwardPolicy } from '../../core/model.ts';
import { failureStatus, Tries, undiciFailure } from './next-upstream.ts';
import type { RequestBody } from './request-body.ts';

const policy = (over: Partial<ForwardPolicy> = {}): ForwardPolicy => ({ ...DEFAULT_FORWARD_POLICY, ...over });

/** Tries with `n` already made. */
function tries(p: ForwardPolicy, method = 'GET', n = 1, body: Pick<RequestBody, 'replayable'> | null = null): Tries {
  const t = new Tries(p, method, body as RequestBody | null);
  t.made = n;
  return t;
}

describe('Tries (proxy_next_upstream)', () => {
  it('by default retries errors and timeouts, not invalid headers or statuses', () => {
    const t = tries(policy());
    expect(t.again('error', true, 3)).toBe(true);
    expect(t.again('timeout', true, 3)).toBe(true);
    expect(t.again('invalid_header', true, 3)).toBe(false);
    expect(t.againForStatus(503, 3)).toBe(false);
  });

  it('retries the statuses the policy names, and no other', () => {
    const t = tries(policy({ nextUpstream: ['http_503', 'http_429'] }));
    expect([500, 502, 503, 504, 403, 404, 429, 200, 501].map((s) => t.againForStatus(s, 3))).toEqual([false, false, true, false, false, false, true, false, false]);
  });

  it('off: never', () => {
    const t = tries(policy({ nextUpstream: [] }));
    expect(t.again('error', false, 3)).toBe(false);
  });

  it.each(['POST', 'LOCK', 'PATCH'])('%s goes again only when it never reached the endpoint, or with non_idempotent', (method) => {
    expect(tries(policy(), method).again('error', false, 3)).toBe(true);
    expect(tries(policy(), method).again('error', true, 3)).toBe(false);
    expect(tries(policy(), method).again('timeout', false, 3)).toBe(true);
    expect(tries(policy({ nextUpstream: ['http_503'] }), method).againForStatus(503, 3)).toBe(false);
    expect(tries(policy({ nextUpstream: ['error', 'http_503', 'non_idempotent'] }), method).again('error', true, 3)).toBe(true);
    expect(tries(policy({ nextUpstream: ['error', 'http_503', 'non_idempotent'] }), method).againForStatus(503, 3)).toBe(true);
  });

  it.each(['GET', 'HEAD', 'PUT', 'DELETE', 'OPTIONS'])('%s is retried once sent (nginx counts only POST, LOCK, PATCH as non-idempotent)', (method) => {
    expect(tries(policy(), method).again('error', true, 3)).toBe(true);
  });

  it('proxy-next-upstream-tries counts every try, the first included', () => {
    expect(tries(policy({ tries: 2 }), 'GET', 1).again('error', true, 5)).toBe(true);
    expect(tries(policy({ tries: 2 }), 'GET', 2).again('error', true, 5)).toBe(false);
    expect(tries(policy({ tries: 1 }), 'GET', 1).again('error', false, 5)).toBe(false);
  });

  it('tries 0: one try per endpoint', () => {
    expect(tries(policy({ tries: 0 }), 'GET', 4).again('error', true, 5)).toBe(true);
    expect(tries(policy({ tries: 0 }), 'GET', 5).again('error', true, 5)).toBe(false);
  });

  it('proxy-next-upstream-timeout: no try starts once it has passed since the first', async () => {
    const t = tries(policy({ triesTimeoutMs: 20 }));
    expect(t.again('error', true, 3)).toBe(true);
    await new Promise((r) => setTimeout(r, 30));
    expect(t.again('error', true, 3)).toBe(false);
  });

  it('a body that can no longer be replayed rules out another try', () => {
    expect(tries(policy(), 'PUT', 1, { replayable: true }).again('error', true, 3)).toBe(true);
    expect(tries(policy(), 'PUT', 1, { replayable: false }).again('error', true, 3)).toBe(false);
  });

  it('classifies undici errors: connect failures were not sent; timeouts answer 504, the rest 502', () => {
    const err = (code: string) => Object.assign(new Error(code), { code });
    expect(undiciFailure(err('ECONNREFUSED'))).toEqual({ case: 'error', sent: false });
    expect(undiciFailure(Object.assign(new Error('x'), { cause: { code: 'EHOSTUNREACH' } }))).toEqual({ case: 'error', sent: false });
    expect(undiciFailure(err('UND_ERR_CONNECT_TIMEOUT'))).toEqual({ case: 'timeout', sent: false });
    expect(undiciFailure(err('UND_ERR_HEADERS_TIMEOUT'))).toEqual({ case: 'timeout', sent: true });
    expect(undiciFailure(err('ECONNRESET'))).toEqual({ case: 'error', sent: true });
    expect(undiciFailure(err('UND_ERR_SOCKET'))).toEqual({ case: 'error', sent: true });
    expect(undiciFailure(err('HPE_INVALID_CONSTANT'))).toEqual({ case: 'invalid_header', sent: true });
    expect(undiciFailure(new Error('no code'))).toEqual({ case: 'error', sent: true });
    expect(failureStatus({ case: 'timeout', sent: false })).toBe(504);
    expect(failureStatus({ case: 'error', sent: true })).toBe(502);
    expect(failureStatus({ case: 'invalid_header', sent: true })).toBe(502);
  });
});
