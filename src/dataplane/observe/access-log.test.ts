import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { AccessLog, redactUrl, type AccessLogEntry } from './access-log.ts';

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

describe('AccessLog', () => {
  const entry = (i: number): AccessLogEntry => ({
    time: new Date(0).toISOString(), requestId: `r${i}`, clientIp: '127.0.0.1', method: 'GET', host: 'h', path: `/${'p'.repeat(i % 300)}`, protocol: 'HTTP/1.1', status: 200, bytesIn: 1, bytesOut: 2,
    durationMs: 1, upstreamAddress: null, upstreamStatus: null, upstreamDurationMs: null, namespace: '', ingress: '', service: '', userAgent: 'ü-agent', tls: null, traceId: null,
  });

  it('writes whole lines in order, in batches, and what is held on flush', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'access-log-'));
    const file = path.join(dir, 'a.log');
    try {
      const log = new AccessLog(file, () => undefined);
      for (let i = 0; i < 1000; i++) log.write(entry(i));
      log.write(entry(1000));
      // Batches of 64 KiB went out as they filled; the rest with flush, or after a write in flight.
      log.flush();
      const read = async () => (await readFile(file, 'utf8')).split('\n').length - 1;
      const deadline = Date.now() + 10_000;
      while ((await read()) < 1001 && Date.now() < deadline) await new Promise<void>((r) => setImmediate(r));
      const lines = (await readFile(file, 'utf8')).split('\n');
      expect(lines.pop()).toBe('');
      expect(lines.map((l) => (JSON.parse(l) as AccessLogEntry).requestId)).toEqual(Array.from({ length: 1001 }, (_, i) => `r${i}`));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
