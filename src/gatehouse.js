#!/usr/bin/env -S node --max-semi-space-size=16 --expose-gc
// The `gatehouse` command (package.json "bin", the image's entrypoint, `npm start`): main.ts
// behind Node's compile cache. Node strips the TypeScript of every module it loads, in every
// isolate, with a WebAssembly stripper that holds about 17 MB per thread once loaded; the
// compile cache keeps the stripped code (and V8's code cache) on disk, so a warm start loads no
// stripper at all. This file is JavaScript because the cache must be on before the first
// TypeScript file is read, this one included (measured on the demo manifests, 2 workers: a
// TypeScript entry kept ~17 MB of the ~35 MB this saves).
//
// Where: $NODE_COMPILE_CACHE when set (Node enables it at start; the image sets it to a cache
// filled at build time), else the user's cache directory (~/.cache/gatehouse) rather than the
// shared temporary directory Node defaults to, where another user could plant entries. Worker
// threads do not inherit an enabled cache, only the environment, hence NODE_COMPILE_CACHE below.
// A directory that cannot be created only costs memory; main() logs it once. A read-only one
// that holds entries (a read-only root filesystem) is read and not written.

import { constants, enableCompileCache } from 'node:module';
import { homedir } from 'node:os';
import { join } from 'node:path';

const userCache = () => join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'gatehouse');
const compileCache = enableCompileCache(process.env.NODE_COMPILE_CACHE ? undefined : userCache());
if (compileCache.status === constants.compileCacheStatus.ENABLED) process.env.NODE_COMPILE_CACHE = compileCache.directory;

const { main } = await import('./main.ts');
await main(process.argv.slice(2), compileCache);
