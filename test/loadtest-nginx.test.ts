// loadtest/lib/nginx.ts: the configuration `npm run bench` runs nginx with is one nginx accepts
// (`nginx -t` with the same prefix, pid, error-log and temp paths, so unprivileged), and
// loadtest/lib/h2load.ts reads p50/p99 from h2load's per-request log.

import { spawnSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { logPercentiles } from '../loadtest/lib/h2load.ts';
import { NGINX, nginxArgs, writeNginxDir } from '../loadtest/lib/nginx.ts';
import { generateSelfSigned } from '../src/control/tls/self-signed.ts';
import { requirePackage } from './support/system-package.ts';

describe.runIf(requirePackage('nginx-light', [NGINX], { suites: 'the nginx bench configuration test' }))('nginx bench configuration', () => {
  it('passes nginx -t, unprivileged, with everything under its own directory', async () => {
    const { cert, key } = await generateSelfSigned({ commonName: 'bench.local' });
    const dir = writeNginxDir({ host: 'bench.local', httpPort: 18080, httpsPort: 18443, upstreamPort: 18081, cert, key });
    try {
      const conf = readFileSync(join(dir, 'nginx.conf'), 'utf8');
      expect(conf).toContain('listen 127.0.0.1:18080;');
      expect(conf).toContain('listen 127.0.0.1:18443 ssl http2;');
      expect(conf).toContain('server 127.0.0.1:18081;');
      for (const line of conf.split('\n').filter((l) => /(_path|^pid|error_log|access_log|ssl_certificate)/.test(l.trim()))) expect(line).toContain(dir);
      const r = spawnSync(NGINX, nginxArgs(dir, true), { encoding: 'utf8', timeout: 10_000 });
      expect(`${r.status} ${r.stderr}`).toBe('0 ');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('h2load per-request log', () => {
  it('gives nearest-rank p50 and p99 of the third column (µs → ms)', () => {
    const log = Array.from({ length: 200 }, (_, i) => `1700000000000000\t200\t${(i + 1) * 10}`).join('\n');
    expect(logPercentiles(`${log}\n`)).toEqual({ p50Ms: 1, p99Ms: 1.98 });
    expect(logPercentiles('')).toBeNull();
  });
});
