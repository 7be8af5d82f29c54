// A minimal reverse proxy on http-proxy-3's `web` path (node:http client under the hood)
// with a keep-alive agent, and its own X-Forwarded-* handling (`xfwd`), the counterpart of
// undici-stream.ts. No router, no worker thread: the forwarding path alone.
//
// node loadtest/proxies/http-proxy-3.ts http://127.0.0.1:PORT   (announces its own port)

import { Agent, createServer } from 'node:http';
import { createProxyServer } from 'http-proxy-3';
import { listenAndAnnounce } from '../lib/child.ts';

const upstream = process.argv[2];
if (upstream === undefined) throw new Error('usage: http-proxy-3.ts UPSTREAM_ORIGIN');

// Unbounded sockets like the undici Pool (connections: null), all kept for reuse.
const agent = new Agent({ keepAlive: true, maxSockets: Infinity, maxFreeSockets: 1024, keepAliveMsecs: 60_000 });
const proxy = createProxyServer({ target: upstream, agent, xfwd: true, changeOrigin: false });
proxy.on('error', (_err, _req, res) => {
  if (!('writeHead' in res)) return void res.destroy();
  if (res.headersSent) return void res.destroy();
  res.writeHead(502, { 'content-type': 'text/plain' });
  res.end('502 Bad Gateway\n');
});

const server = createServer({ keepAliveTimeout: 75_000 }, (req, res) => {
  proxy.web(req, res);
});
listenAndAnnounce(server);
