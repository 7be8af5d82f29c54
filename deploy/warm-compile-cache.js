// `node deploy/warm-compile-cache.js` in the image build (Dockerfile), with NODE_COMPILE_CACHE
// set: fills Node's compile cache with every module under src/ (TypeScript stripped, V8 code
// cache) without running any of them, so that the first start in a read-only container is
// already warm (src/gatehouse.js says what that saves). Linking comes after every module of the
// graph is compiled, so a list of imports that ends with one that cannot link compiles them all
// and runs none. Run it as the user that will run Gatehouse: Node keeps one cache per user ID.

import { flushCompileCache, getCompileCacheDir } from 'node:module';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

if (getCompileCacheDir() === undefined) {
  process.stderr.write('warm-compile-cache: set NODE_COMPILE_CACHE to a writable directory\n');
  process.exit(2);
}
const src = new URL('../src/', import.meta.url);
const modules = readdirSync(src, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts'));
const dir = mkdtempSync(join(tmpdir(), 'gatehouse-warm-'));
const list = join(dir, 'all.mjs');
writeFileSync(list, [...modules.map((f) => `import ${JSON.stringify(new URL(f, src).href)};`), "import { noSuchExport } from 'node:path';", ''].join('\n'));
try {
  await import(pathToFileURL(list).href);
  throw new Error('warm-compile-cache: the module list linked and ran');
} catch (err) {
  if (!(err instanceof SyntaxError && err.message.includes('noSuchExport'))) throw err;
} finally {
  rmSync(dir, { recursive: true, force: true });
}
flushCompileCache();
process.stdout.write(`warm-compile-cache: ${modules.length} modules compiled into ${getCompileCacheDir()}\n`);
