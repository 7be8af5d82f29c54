// One request before any load: a run against a proxy that answers 404 or 502 would measure
// error pages, not proxying.

import { request } from 'node:http';

/** GETs `url` (with an optional Host header) and throws unless it answers 200 with `body`. */
export function expectBody(url: string, body: string, host?: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers: host === undefined ? {} : { host }, timeout: 5000 }, (res) => {
      let got = '';
      res.setEncoding('utf8').on('data', (d: string) => (got += d));
      res.on('end', () => {
        if (res.statusCode === 200 && got === body) resolve();
        else reject(new Error(`GET ${url}${host ? ` (Host: ${host})` : ''}: expected 200 ${JSON.stringify(body)}, got ${res.statusCode} ${JSON.stringify(got.slice(0, 200))}`));
      });
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${url}: no answer in 5 s`)));
    req.on('error', reject);
    req.end();
  });
}
