// `npm start` with no flags: two small demo upstreams on 127.0.0.1:9001 and :9002, and the
// controller on the manifests beside this file, listening on 127.0.0.1 only.

import type { Options } from '../../src/options.ts';

// node:http through getBuiltinModule, not an import: see eslint.config.js (its WebSocket getter).
const { createServer } = process.getBuiltinModule('node:http');

const UPSTREAMS = [
  { name: 'demo-a', port: 9001 },
  { name: 'demo-b', port: 9002 },
];

function startUpstream(name: string, port: number): Promise<void> {
  const server = createServer((req, res) => {
    const body = `${JSON.stringify({ upstream: name, method: req.method, url: req.url, host: req.headers.host, forwardedFor: req.headers['x-forwarded-for'] }, null, 2)}\n`;
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(body);
  });
  return new Promise((resolve, reject) => {
    server.once('error', (err) => reject(new Error(`demo upstream ${name} cannot listen on 127.0.0.1:${port}: ${err.message}`)));
    server.listen(port, '127.0.0.1', () => resolve());
  });
}

export async function runDemo(run: (argv: string[], onReady: (o: Options) => void) => Promise<void>): Promise<void> {
  await Promise.all(UPSTREAMS.map((u) => startUpstream(u.name, u.port)));
  const manifests = new URL('.', import.meta.url).pathname;
  await run(['--manifests', manifests, '--bind-address', '127.0.0.1'], (o) => {
    const base = `http://127.0.0.1:${o.httpPort}`;
    process.stdout.write(
      [
        '',
        `Gatehouse demo is running (manifests: ${manifests}). Try:`,
        `  curl -H 'Host: demo.local' ${base}/            # demo-a`,
        `  curl -H 'Host: demo.local' ${base}/b/anything  # demo-b (Prefix /b)`,
        `  curl -H 'Host: demo.local' ${base}/about       # demo-b (Exact /about)`,
        `  curl -H 'Host: x.apps.local' ${base}/          # demo-b (wildcard host)`,
        `  curl ${base}/                                  # 404: no host matches`,
        `  curl 'http://127.0.0.1:${o.statusPort}/debug/explain?format=text&url=http://demo.local/b/x'   # why demo-b`,
        `  open http://127.0.0.1:${o.statusPort}/dashboard                  # hosts, routes, endpoints, rates`,
        `  curl http://127.0.0.1:${o.statusPort}/debug/table`,
        'Edit the YAML files while it runs: changes apply live. Ctrl-C stops it.',
        '',
      ].join('\n'),
    );
  });
}
