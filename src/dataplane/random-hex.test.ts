import { describe, expect, it } from 'vitest';
import { randomHex } from './random-hex.ts';

describe('randomHex', () => {
  it('gives random hex of the asked length, across pool refills', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 2000; i++) {
      const h = randomHex(16);
      expect(h).toMatch(/^[0-9a-f]{32}$/);
      seen.add(h);
    }
    expect(seen.size).toBe(2000);
    expect(randomHex(8)).toMatch(/^[0-9a-f]{16}$/);
  });
});
