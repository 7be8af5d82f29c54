// The ACME flags: --acme-directory turns ACME on; --acme-storage is required in local mode and
// refused in Kubernetes mode; the others need --acme-directory; the email must look like one.

import { describe, expect, it } from 'vitest';
import { compileOptions, parseOptions } from '../../options.ts';

const bad = (argv: string[]) => {
  try {
    parseOptions(argv);
  } catch (err) {
    return { code: (err as { code?: string }).code, message: (err as Error).message };
  }
  return null;
};

describe('ACME flags', () => {
  it('are off by default; compile then reports annotated Ingresses as not configured', () => {
    const o = parseOptions([]);
    expect([o.acmeDirectory, o.acmeEmail, o.acmeStorage, o.acmeCaFile]).toEqual([null, null, null, null]);
    expect(compileOptions(o).acme).toBe(false);
  });

  it('local mode: directory, email, storage and CA file', () => {
    const o = parseOptions(['--manifests', '/m', '--acme-directory', 'https://127.0.0.1:14000/dir', '--acme-email', 'ops@example.com', '--acme-storage', '/var/lib/gh', '--acme-ca-file', '/ca.pem']);
    expect([o.acmeDirectory, o.acmeEmail, o.acmeStorage, o.acmeCaFile]).toEqual(['https://127.0.0.1:14000/dir', 'ops@example.com', '/var/lib/gh', '/ca.pem']);
    expect(compileOptions(o).acme).toBe(true);
  });

  it('Kubernetes mode: no storage directory (certificates go into their Secrets)', () => {
    expect(parseOptions(['--acme-directory', 'https://acme.example/dir']).acmeDirectory).toBe('https://acme.example/dir');
    expect(bad(['--acme-directory', 'https://acme.example/dir', '--acme-storage', '/x'])).toEqual({ code: 'GH_FLAG_INVALID', message: expect.stringMatching(/^--acme-storage: only in local mode/) });
  });

  it.each([
    [['--manifests', '/m', '--acme-directory', 'https://a/dir'], /^--acme-storage: required/],
    [['--acme-email', 'ops@example.com'], /^--acme-email: needs --acme-directory/],
    [['--acme-ca-file', '/ca.pem'], /^--acme-ca-file: needs --acme-directory/],
    [['--acme-directory', 'ftp://a/dir'], /^--acme-directory: expected an http/],
    [['--acme-directory', 'https://a/dir', '--acme-email', 'not-an-email'], /^--acme-email: expected an email address/],
    [['--acme-directory', 'https://a/dir', '--acme-email', 'a@b'], /^--acme-email: expected an email address/],
  ])('refuses %j', (argv, message) => {
    expect(bad(argv)).toEqual({ code: 'GH_FLAG_INVALID', message: expect.stringMatching(message) });
  });
});
