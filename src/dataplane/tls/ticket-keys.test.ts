// Shared session-ticket keys: a session from one server resumes on another with the same
// keyring; after a rotation the previous key still resumes (and the ticket is renewed); a key
// rotated out no longer does.

import { once } from 'node:events';
import { connect, createServer, type Server } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createCa, type KeyPair } from '../../../test/support/certs.ts';
import { newTicketKey, TicketKeyring, TicketKeyRotation } from './ticket-keys.ts';

function resume(port: number, session?: Buffer): Promise<{ reused: boolean; session: Buffer | null }> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, servername: 't.test', rejectUnauthorized: false, session });
    let ticket: Buffer | null = null;
    socket.on('session', (s: Buffer) => (ticket = s));
    socket.on('data', () => undefined);
    socket.on('end', () => resolve({ reused: socket.isSessionReused(), session: ticket }));
    socket.on('error', reject);
  });
}

describe('TicketKeyring', () => {
  let pair: KeyPair;
  const keyring = new TicketKeyring();
  const servers: Server[] = [];
  const ports: number[] = [];

  beforeAll(async () => {
    pair = await (await createCa()).issue({ dnsNames: ['t.test'] });
    keyring.set([newTicketKey()]);
    for (let i = 0; i < 2; i++) {
      const server = createServer({ cert: pair.cert, key: pair.key }, (s) => s.end('hi'));
      expect(keyring.install((server as unknown as { _sharedCreds: { context: unknown } })._sharedCreds.context)).toBe(true);
      server.listen(0, '127.0.0.1');
      await once(server, 'listening');
      servers.push(server);
      ports.push((server.address() as { port: number }).port);
    }
  });

  afterAll(() => {
    for (const s of servers) s.close();
  });

  it('resumes on another server, keeps the previous key after a rotation, and drops it after the next', async () => {
    const first = await resume(ports[0]!);
    expect(first.reused).toBe(false);
    expect((await resume(ports[1]!, first.session!)).reused).toBe(true);

    keyring.set([newTicketKey(), keyring.current!]);
    const afterRotation = await resume(ports[1]!, first.session!);
    expect(afterRotation.reused).toBe(true);
    // Renewed: the new ticket is under the new key, so it outlives the next rotation.
    expect(afterRotation.session).not.toBeNull();

    keyring.set([newTicketKey(), keyring.current!]);
    expect((await resume(ports[0]!, afterRotation.session!)).reused).toBe(true);
    expect((await resume(ports[0]!, first.session!)).reused).toBe(false);
  });
});

describe('TicketKeyRotation', () => {
  it('rotates to a new key and keeps the previous one', async () => {
    const seen: (readonly Buffer[])[] = [];
    const rotation = new TicketKeyRotation((keys) => seen.push(keys), 20);
    const first = rotation.current()[0]!;
    expect(first).toHaveLength(48);
    // Two rotations at least, however late the 20 ms timer runs on a busy machine.
    await vi.waitFor(() => expect(seen.length).toBeGreaterThanOrEqual(2), { timeout: 10_000, interval: 10 });
    rotation.close();
    expect(seen[0]![1]).toBe(first);
    expect(seen[1]![1]).toBe(seen[0]![0]);
    expect(rotation.current()).toHaveLength(2);
  });
});
