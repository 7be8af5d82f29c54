// The admin server's listeners: one port on every address asked for (the pod IP and loopback, for
// `kubectl port-forward`), closed together; unknown paths list the known ones; only GET and HEAD.

import { request } from 'node:http';
import { describe, expect, it } from 'vitest';
import { startAdminServer, type AdminState } from './admin-server.ts';

const STATE: AdminState = { ready: () => true, readiness: () => ({}), debugTable: () => ({}), metrics: () => 'gatehouse_workers 1\n', explainState: () => null, dashboardState: () => ({}) };
const TABLE = { generation: 1, fingerprint: '', hosts: [], defaultBackend: null, backends: {}, tls: [], defaultCertificate: null };

function get(host: string, port: number, path: string, method = 'GET'): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host, port, path, method, agent: false }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode!, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('admin server', () => {
  it('listens on each address at one port, and closes them all (twice is safe)', async () => {
    const admin = await startAdminServer(STATE, 0, ['127.0.0.2', '127.0.0.1']);
    expect((await get('127.0.0.2', admin.port, '/healthz')).status).toBe(200);
    expect((await get('127.0.0.1', admin.port, '/healthz')).status).toBe(200);
    expect(JSON.parse((await get('127.0.0.1', admin.port, '/nope')).body).paths).toContain('/debug/explain?url=');
    expect((await get('127.0.0.1', admin.port, '/metrics')).body).toBe('gatehouse_workers 1\n');
    expect((await get('127.0.0.1', admin.port, '/debug/explain?url=http://a/')).status).toBe(503);
    expect((await get('127.0.0.1', admin.port, '/dashboard', 'POST')).status).toBe(405);
    expect((await get('127.0.0.1', admin.port, '/dashboard', 'HEAD')).status).toBe(200);
    await Promise.all([admin.close(), admin.close()]);
    await expect(get('127.0.0.2', admin.port, '/healthz')).rejects.toThrow(/ECONNREFUSED/);
    await expect(get('127.0.0.1', admin.port, '/healthz')).rejects.toThrow(/ECONNREFUSED/);
  });

  it("/debug/explain takes the URL's own query (after a second `?`) as part of it", async () => {
    const admin = await startAdminServer({ ...STATE, explainState: () => ({ table: TABLE, endpoints: null, conditions: [], ingresses: [], httpsRedirectPort: 443, active: {}, passive: {} }) }, 0, ['127.0.0.1']);
    try {
      const body = JSON.parse((await get('127.0.0.1', admin.port, '/debug/explain?url=http://a.test/x?id=3&format=json')).body) as { target: string };
      expect(body.target).toBe('/x?id=3');
    } finally {
      await admin.close();
    }
  });
});
