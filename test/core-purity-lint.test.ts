// The lint rule that keeps src/core pure rejects node: imports, I/O libraries, clocks and
// randomness there, and only there.

import { ESLint } from 'eslint';
import { describe, expect, it } from 'vitest';

const eslint = new ESLint({ cwd: new URL('..', import.meta.url).pathname });

async function ruleIds(code: string, filePath: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath });
  return result!.messages.map((m) => m.ruleId ?? m.message);
}

describe('src/core purity lint rule', () => {
  it.each([
    ["import { readFileSync } from 'node:fs';\nexport const f = readFileSync;\n", 'no-restricted-imports'],
    ["import { readFileSync } from 'fs';\nexport const f = readFileSync;\n", 'no-restricted-imports'],
    ["import { Pool } from 'undici';\nexport const p = Pool;\n", 'no-restricted-imports'],
    ["export const t = Date.now();\n", 'no-restricted-properties'],
    ["export const r = Math.random();\n", 'no-restricted-properties'],
    ["export const e = process.env;\n", 'no-restricted-globals'],
    ["setTimeout(() => undefined, 1);\n", 'no-restricted-globals'],
  ])('refuses %j in src/core', async (code, rule) => {
    expect(await ruleIds(code, 'src/core/example.ts')).toContain(rule);
  });

  it('allows the same import outside src/core', async () => {
    expect(await ruleIds("import { readFileSync } from 'node:fs';\nexport const f = readFileSync;\n", 'src/control/example.ts')).toEqual([]);
  });
});
