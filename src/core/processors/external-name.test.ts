import { describe, expect, it } from 'vitest';
import { externalNameProblem } from './external-name.ts';

describe('externalNameProblem', () => {
  it.each([
    // ingress-nginx refuses these two as well.
    ['localhost', 'names the local host'],
    ['127.0.0.1', 'is a loopback address'],
    // The same host in the other spellings a resolver or the URL parser accepts.
    ['LocalHost.', 'names the local host'],
    ['api.localhost', 'names the local host'],
    ['ip6-localhost', 'names the local host'],
    ['ip6-loopback', 'names the local host'],
    ['localhost.localdomain', 'names the local host'],
    ['127.0.0.53', 'is a loopback address'],
    ['127.1', 'is a loopback address'],
    ['0x7f.0.0.1', 'is a loopback address'],
    ['2130706433', 'is a loopback address'],
    ['127.0.0.1.', 'is a loopback address'],
    ['::1', 'is a loopback address'],
    ['::ffff:127.0.0.1', 'is a loopback address'],
    ['0.0.0.0', 'is the unspecified address'],
    ['0', 'is the unspecified address'],
    ['::', 'is the unspecified address'],
    // Link-local: the cloud metadata endpoint above all.
    ['169.254.169.254', 'is a link-local address'],
    ['169.254.169.254.', 'is a link-local address'],
    ['0xa9fea9fe', 'is a link-local address'],
    ['::ffff:169.254.169.254', 'is a link-local address'],
    ['fe80::1', 'is a link-local address'],
    ['224.0.0.1', 'is a link-local multicast address'],
  ])('refuses %j: it %s', (name, reason) => {
    expect(externalNameProblem(name)).toEqual({ code: 'GH_SERVICE_EXTERNALNAME_FORBIDDEN', reason });
  });

  it.each([
    // Not a host at all: spliced into a URL, `x@127.0.0.1` connects to 127.0.0.1.
    'x@127.0.0.1', '127.0.0.1:8080', '127.0.0.1/x', 'fe80::1%eth0', '[::1]', 'foo bar', 'foo_bar.example.com', 'a..b', '-a.example.com', 'example.com..',
    // Read as IPv4 by the URL parser, which then refuses them.
    '999.0.0.1', '1.2.3.4.5', 'foo.08', 'foo.0x1',
  ])('refuses %j as neither a DNS name nor an IP address', (name) => {
    expect(externalNameProblem(name)?.code).toBe('GH_SERVICE_EXTERNALNAME_INVALID');
  });

  it.each([
    'my-svc.example.com', 'API.Partner.example.net', 'api.partner.example.net.', 'db.prod.svc.cluster.local', 'localhost.example.com', 'notlocalhost', 'my-localhost',
    // Addresses are allowed unless special, as ingress-nginx allows them: a private
    // address is a normal ExternalName target.
    '10.0.0.5', '192.168.1.1', '172.16.0.1', '8.8.8.8', '2001:db8::1', '::ffff:10.0.0.5',
  ])('accepts %j', (name) => {
    expect(externalNameProblem(name)).toBeNull();
  });
});
