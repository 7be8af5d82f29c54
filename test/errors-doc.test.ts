// docs/errors.md lists every code of src/errors.ts with its meaning, and nothing else.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ERRORS } from '../src/errors.ts';

const doc = readFileSync(join(import.meta.dirname, '..', 'docs', 'errors.md'), 'utf8');

describe('docs/errors.md', () => {
  const rows = new Map([...doc.matchAll(/^\| `(GH_[A-Z_]+)` \| (.+) \|$/gm)].map((m) => [m[1], m[2]]));

  it('documents every code with the registry text', () => {
    for (const [code, text] of Object.entries(ERRORS)) expect(rows.get(code), code).toBe(text);
  });

  it('documents no code the registry lacks', () => {
    expect([...rows.keys()].filter((c) => !(c! in ERRORS))).toEqual([]);
  });
});
