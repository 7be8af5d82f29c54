import { describe, expect, it } from 'vitest';
import { redactUrl } from './access-log.ts';

describe('access-log URL redaction', () => {
  it.each([
    ['/a', '/a'],
    ['/a?page=2&q=shoes', '/a?page=2&q=shoes'],
    ['/a?token=abc&page=2', '/a?token=REDACTED&page=2'],
    ['/cb?code=xyz&state=1', '/cb?code=REDACTED&state=1'],
    ['/s?X-Amz-Signature=f00&X-Amz-Credential=me&api_key=k&PassWord=p&client_secret=s&sig=1&session_id=9', '/s?X-Amz-Signature=REDACTED&X-Amz-Credential=REDACTED&api_key=REDACTED&PassWord=REDACTED&client_secret=REDACTED&sig=REDACTED&session_id=REDACTED'],
    ['/e?%74oken=abc', '/e?%74oken=REDACTED'],
    ['/flag?token', '/flag?token'],
    ['/bad?%zz=1&auth=2', '/bad?%zz=1&auth=REDACTED'],
  ])('%s → %s', (url, want) => {
    expect(redactUrl(url)).toBe(want);
  });
});
