import { createServer } from 'node:http';
import { once } from 'node:events';
import { Writable } from 'node:stream';
import type { AddressInfo } from 'node:net';
import * as undici from 'undici';
import { describe, expect, it } from 'vitest';
import { Agent, buildConnector, Pool } from './undici-dispatchers.ts';

describe('the undici dispatchers loaded by path', () => {
  it("are undici's own classes and connector, with the request and stream methods its index gives every Dispatcher", () => {
    expect(Pool).toBe(undici.Pool);
    expect(Agent).toBe(undici.Agent);
    expect(buildConnector).toBe(undici.buildConnector);
    for (const method of ['request', 'stream', 'pipeline', 'upgrade', 'connect'] as const) {
      expect(typeof Pool.prototype[method]).toBe('function');
      expect(Pool.prototype[method]).toBe(undici.Pool.prototype[method]);
    }
  });

  it('forward a request: Pool.stream and Agent.request reach a server on 127.0.0.1', async () => {
    const server = createServer((req, res) => res.end(`${req.method} ${req.url}`));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const pool = new Pool(origin);
    const agent = new Agent();
    try {
      const chunks: Buffer[] = [];
      await pool.stream({ path: '/pool', method: 'GET' }, () => new Writable({ write: (c: Buffer, _e: string, cb: () => void) => (chunks.push(c), cb()) }));
      expect(Buffer.concat(chunks).toString()).toBe('GET /pool');
      const res = await agent.request({ origin, path: '/agent', method: 'POST' });
      expect(await res.body.text()).toBe('POST /agent');
    } finally {
      await Promise.all([pool.close(), agent.close()]);
      server.close();
    }
  });
});
