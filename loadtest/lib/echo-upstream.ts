// The upstream for every load run: a minimal node:http server answering a small fixed body.
// It runs in its own child process rather than a worker thread of the runner: a process is
// what a backend pod is, its CPU time can be read apart from the proxy's and the load
// generator's (/proc/<pid>/stat; a thread would need per-task accounting), it cannot share a
// heap, GC pauses or the libuv pool with the runner, and it is stopped by its own PID.
//
// Run directly (`node loadtest/lib/echo-upstream.ts`) it serves and announces its port.

import { createServer } from 'node:http';
import { fileURLToPath } from 'node:url';
import { listenAndAnnounce, startServerChild, type Child } from './child.ts';

export const ECHO_BODY = 'hello from the echo upstream\n';

export interface EchoUpstream {
  child: Child;
  port: number;
  url: string;
}

export async function startEchoUpstream(): Promise<EchoUpstream> {
  const { child, port } = await startServerChild('echo upstream', fileURLToPath(import.meta.url), []);
  return { child, port, url: `http://127.0.0.1:${port}/` };
}

if (import.meta.main) {
  const body = Buffer.from(ECHO_BODY);
  const headers = { 'content-type': 'text/plain; charset=utf-8', 'content-length': String(body.length) };
  // Longer than any pause between warm-up and measurement, so kept-alive proxy connections
  // are not closed under the proxies between runs (Node's default is 5 s).
  const server = createServer({ keepAliveTimeout: 65_000 }, (req, res) => {
    // Drain any request body, then answer.
    req.resume();
    res.writeHead(200, headers);
    res.end(body);
  });
  listenAndAnnounce(server, Number(process.argv[2] ?? 0));
}
