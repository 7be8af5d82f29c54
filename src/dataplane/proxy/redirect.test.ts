import { describe, expect, it } from 'vitest';
import { hstsHeader, httpsLocation, isAcmeChallenge, redirectHost } from './redirect.ts';

describe('httpsLocation', () => {
  it.each([
    ['a.test', '/x?y=1', 443, 'https://a.test/x?y=1'],
    ['a.test:8080', '/x', 443, 'https://a.test/x'],
    ['A.Test', '/%7E//b?', 443, 'https://A.Test/%7E//b?'],
    ['a.test', '/', 8443, 'https://a.test:8443/'],
    ['10.0.0.1:80', '/', 443, 'https://10.0.0.1/'],
    ['[::1]:8080', '/v6', 443, 'https://[::1]/v6'],
  ])('%s %s (port %d) → %s', (host, target, port, want) => {
    expect(httpsLocation(host, target, port)).toBe(want);
  });

  it.each(['', 'a.test@evil', 'a/b', 'a b', '[::1', '-a.test', 'a.test\\x'])('puts no %j in a Location', (host) => {
    expect(redirectHost(host)).toBeNull();
    expect(httpsLocation(host, '/', 443)).toBeNull();
  });
});

describe('isAcmeChallenge', () => {
  it('matches the HTTP-01 directory only', () => {
    expect(isAcmeChallenge('/.well-known/acme-challenge/abc')).toBe(true);
    expect(isAcmeChallenge('/.well-known/acme-challenge')).toBe(false);
    expect(isAcmeChallenge('/.well-known/other')).toBe(false);
    expect(isAcmeChallenge('/x/.well-known/acme-challenge/abc')).toBe(false);
  });
});

describe('hstsHeader', () => {
  it('builds RFC 6797 values', () => {
    expect(hstsHeader({ maxAge: 31536000, includeSubDomains: true, preload: false })).toBe('max-age=31536000; includeSubDomains');
    expect(hstsHeader({ maxAge: 0, includeSubDomains: false, preload: false })).toBe('max-age=0');
    expect(hstsHeader({ maxAge: 600, includeSubDomains: true, preload: true })).toBe('max-age=600; includeSubDomains; preload');
  });
});
