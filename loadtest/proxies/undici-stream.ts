// A minimal reverse proxy the way src/dataplane/proxy/proxy.ts forwards: one undici Pool
// (unbounded connections, no pipelining, kept alive), `Pool.stream` writing the upstream
// body straight into the ServerResponse, and Gatehouse's own header rewriting. No router,
// no worker thread, no retries: the forwarding path alone.
//
// node loadtest/proxies/undici-stream.ts http://127.0.0.1:PORT   (announces its own port)

import { createServer } from 'node:http';
import { Pool } from 'undici';
import { clientIp, downstreamResponseHeaders, upstreamRequestHeaders } from '../../src/dataplane/proxy/headers.ts';
import { listenAndAnnounce } from '../lib/child.ts';

const upstream = process.argv[2];
if (upstream === undefined) throw new Error('usage: undici-stream.ts UPSTREAM_ORIGIN');

const pool = new Pool(upstream, { connections: null, pipelining: 1, keepAliveTimeout: 60_000, keepAliveMaxTimeout: 600_000 });

const server = createServer({ keepAliveTimeout: 75_000 }, (req, res) => {
  const hasBody = req.headers['content-length'] !== undefined ? req.headers['content-length'] !== '0' : req.headers['transfer-encoding'] !== undefined;
  const ip = clientIp(req.socket.remoteAddress);
  const headers = upstreamRequestHeaders(req.rawHeaders, req.headers.connection, { clientIp: ip, forwardedFor: ip, proto: 'http', host: req.headers.host ?? '', port: req.socket.localPort ?? 0 });
  pool.stream(
    { path: req.url!, method: req.method!, headers, body: hasBody ? req : null },
    ({ statusCode, headers: upstreamHeaders }) => {
      res.writeHead(statusCode, downstreamResponseHeaders(upstreamHeaders));
      return res;
    },
    (err) => {
      if (err === null) return;
      if (res.headersSent) return void res.destroy();
      res.writeHead(502, { 'content-type': 'text/plain' });
      res.end('502 Bad Gateway\n');
    },
  );
});
listenAndAnnounce(server);
