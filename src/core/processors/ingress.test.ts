import { describe, expect, it } from 'vitest';
import { readRuleHost } from './ingress.ts';

describe('readRuleHost (networking/v1 validateIngressRules)', () => {
  it.each(['10.0.0.1', '192.168.1.1', '127.0.0.1', '010.0.0.1', '0.0.0.0', '::1', 'fe80::1', '::ffff:10.0.0.1', '2001:db8::1'])(
    'refuses the IP address %j with its own message', (host) => {
      expect(readRuleHost(host)).toEqual({ ok: false, message: `host ${JSON.stringify(host)} is an IP address; a rule host must be a DNS name, as the Kubernetes API requires` });
    },
  );

  it.each([
    ['shop.example.com', 'shop.example.com'],
    ['Shop.Example.COM', 'shop.example.com'],
    ['*.example.com', '*.example.com'],
    // Names the API server accepts although they look numeric: Go's ParseIP reads none of them.
    ['1.2.3.256', '1.2.3.256'],
    ['127.1', '127.1'],
    ['1.2.3.4.5', '1.2.3.4.5'],
    ['*.10.0.0.1', '*.10.0.0.1'],
    ['', ''],
    [undefined, ''],
    [null, ''],
  ])('accepts %j as %j', (raw, host) => {
    expect(readRuleHost(raw)).toEqual({ ok: true, host });
  });

  it.each(['*.*.x', 'foo_bar.com', 'a.com:80', '[::1]', 'a..b', 5])('refuses %j as no DNS name', (raw) => {
    expect(readRuleHost(raw)).toEqual({ ok: false, message: `host ${JSON.stringify(raw)} is not a DNS name or a one-label wildcard like *.example.com` });
  });
});
