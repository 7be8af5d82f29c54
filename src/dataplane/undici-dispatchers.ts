// The part of undici the data plane uses: Pool and Agent with their request and stream methods,
// and buildConnector. undici's index loads all of undici besides (fetch, WebSocket, EventSource,
// cache stores, mocks, proxy agents): about 12 MB more in every worker (measured here: a worker
// importing `undici` held 12.4 MB more than one importing these modules, 1.3 MB). undici has no
// "exports" map, so its modules can be required by path; these are the ones its index.js itself
// assembles the same classes from, including the step that gives every Dispatcher the request,
// stream, pipeline, upgrade and connect methods. Same modules, same objects: importing `undici`
// as well (the Kubernetes client's fetch in the main thread) gives the very same classes.
// undici-dispatchers.test.ts checks they are undici's own.

import { createRequire } from 'node:module';
import type * as undici from 'undici';

const require = createRequire(import.meta.url);

const Dispatcher = require('undici/lib/dispatcher/dispatcher.js') as typeof undici.Dispatcher;
Object.assign(Dispatcher.prototype, require('undici/lib/api/index.js') as object);

export const Pool = require('undici/lib/dispatcher/pool.js') as typeof undici.Pool;
export type Pool = undici.Pool;
export const Agent = require('undici/lib/dispatcher/agent.js') as typeof undici.Agent;
export type Agent = undici.Agent;
export const buildConnector = require('undici/lib/core/connect.js') as typeof undici.buildConnector;
