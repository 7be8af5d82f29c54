// One request before any load: a run against a proxy that answers 404 or 502 would measure
// error pages, not proxying.

import { request } from 'node:http';
import { connect as h2connect } from 'node:http2';
import { request as httpsRequest } from 'node:https';
import type { TLSSocket } from 'node:tls';

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

/**
 * GETs / over HTTPS (HTTP/1.1, certificate not verified) on 127.0.0.1:`port` with `Host: host`;
 * throws unless it answers 200 with `body`. Returns the SHA-256 fingerprint of the certificate served.
 */
export function expectHttpsBody(port: number, body: string, host: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest({ host: '127.0.0.1', port, path: '/', headers: { host }, servername: host, rejectUnauthorized: false, timeout: 5000 }, (res) => {
      const fingerprint = (res.socket as TLSSocket).getPeerCertificate().fingerprint256;
      let got = '';
      res.setEncoding('utf8').on('data', (d: string) => (got += d));
      res.on('end', () => (res.statusCode === 200 && got === body ? resolve(fingerprint) : reject(new Error(`https http/1.1 :${port}: expected 200 ${JSON.stringify(body)}, got ${res.statusCode} ${JSON.stringify(got.slice(0, 200))}`))));
    });
    req.on('timeout', () => req.destroy(new Error(`https http/1.1 :${port}: no answer in 5 s`)));
    req.on('error', reject);
    req.end();
  });
}

/** The same over h2 (ALPN h2, `:authority: host`). */
export function expectH2Body(port: number, body: string, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const session = h2connect(`https://127.0.0.1:${port}`, { rejectUnauthorized: false, servername: host });
    session.setTimeout(5000, () => session.destroy(new Error(`h2 :${port}: no answer in 5 s`)));
    session.on('error', reject);
    const stream = session.request({ ':path': '/', ':authority': host });
    let status = 0;
    let got = '';
    stream.on('response', (h) => (status = Number(h[':status'])));
    stream.setEncoding('utf8').on('data', (d: string) => (got += d));
    stream.on('end', () => {
      session.close();
      if (status === 200 && got === body) resolve();
      else reject(new Error(`h2 :${port}: expected 200 ${JSON.stringify(body)}, got ${status} ${JSON.stringify(got.slice(0, 200))}`));
    });
    stream.on('error', reject);
  });
}
