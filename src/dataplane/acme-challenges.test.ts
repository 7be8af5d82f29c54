import { describe, expect, it } from 'vitest';
import { challengeAnswer } from './acme-challenges.ts';

describe('challengeAnswer', () => {
  const tokens = new Map([['tok_en-1', 'tok_en-1.thumbprint']]);

  it('answers GET and HEAD of a published token', () => {
    expect(challengeAnswer('GET', '/.well-known/acme-challenge/tok_en-1', tokens)).toBe('tok_en-1.thumbprint');
    expect(challengeAnswer('HEAD', '/.well-known/acme-challenge/tok_en-1', tokens)).toBe('tok_en-1.thumbprint');
  });

  it('leaves everything else to routing: other tokens, methods, paths, query strings, no tokens at all', () => {
    expect(challengeAnswer('GET', '/.well-known/acme-challenge/other', tokens)).toBeUndefined();
    expect(challengeAnswer('POST', '/.well-known/acme-challenge/tok_en-1', tokens)).toBeUndefined();
    expect(challengeAnswer('GET', '/.well-known/acme-challenge/tok_en-1?x=1', tokens)).toBeUndefined();
    expect(challengeAnswer('GET', '/.well-known/acme-challenge/', tokens)).toBeUndefined();
    expect(challengeAnswer('GET', '/tok_en-1', tokens)).toBeUndefined();
    expect(challengeAnswer('GET', '/.well-known/acme-challenge/tok_en-1', new Map())).toBeUndefined();
  });
});
