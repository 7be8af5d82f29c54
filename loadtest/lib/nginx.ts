// nginx (Debian's nginx-light, /usr/sbin/nginx) as the reverse proxy Gatehouse is compared with:
// a configuration generated into a temporary directory (its own pid file, error log and temp
// paths, so it runs unprivileged), one process (`master_process off`), listening on 127.0.0.1
// only, started as a child and stopped by its PID.

import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startProcess, untilReady, type Child } from './child.ts';
import { freePort } from './gatehouse.ts';

export const NGINX = '/usr/sbin/nginx';
export const NGINX_MISSING = `nginx is not installed (no ${NGINX}).\n  Debian/Ubuntu: apt-get update && apt-get install -y nginx-light\n`;

/** `nginx version: nginx/1.22.1`, or null when nginx is not installed. */
export function nginxVersion(): string | null {
  if (!existsSync(NGINX)) return null;
  const r = spawnSync(NGINX, ['-v'], { encoding: 'utf8' });
  return r.error ? null : `${r.stdout}${r.stderr}`.trim().split('\n')[0]!;
}

export interface NginxConfigOptions {
  /** The prefix directory (`-p`): pid file, error log and temp paths go under it. */
  dir: string;
  host: string;
  httpPort: number;
  httpsPort: number;
  upstreamPort: number;
  certFile: string;
  keyFile: string;
}

/**
 * What a Gatehouse worker does, as nginx: one process, HTTP/1.1 on one port and TLS (HTTP/1.1 and
 * h2 by ALPN) on another, `host` proxied to the upstream over kept-alive HTTP/1.1 connections with
 * the X-Forwarded-* headers ingress-nginx sets; a JSON access-log line per request to a file in
 * its directory, as Gatehouse writes one (its default; the bench gives it --access-log-path);
 * no TLS session cache or tickets, so every new connection is a full handshake.
 */
export function nginxConfig(o: NginxConfigOptions): string {
  const d = o.dir;
  return `worker_processes 1;
pid ${d}/nginx.pid;
error_log ${d}/error.log warn;
events {
  worker_connections 4096;
}
http {
  # One JSON line per request, the fields of Gatehouse's access log (docs/metrics.md).
  log_format gatehouse escape=json '{"time":"$time_iso8601","requestId":"$request_id","clientIp":"$remote_addr","method":"$request_method","host":"$host","path":"$request_uri","protocol":"$server_protocol","status":$status,"bytesIn":$request_length,"bytesOut":$bytes_sent,"durationMs":$request_time,"upstreamAddress":"$upstream_addr","upstreamStatus":"$upstream_status","upstreamDurationMs":"$upstream_response_time","userAgent":"$http_user_agent","tls":"$ssl_protocol"}';
  access_log ${d}/access.log gatehouse;
  client_body_temp_path ${d}/tmp/body;
  proxy_temp_path ${d}/tmp/proxy;
  fastcgi_temp_path ${d}/tmp/fastcgi;
  uwsgi_temp_path ${d}/tmp/uwsgi;
  scgi_temp_path ${d}/tmp/scgi;
  # Keep-alive clients are not cut every 1,000 requests (nginx's default) during a run.
  keepalive_requests 1000000;
  keepalive_timeout 75s;
  upstream echo {
    server 127.0.0.1:${o.upstreamPort};
    keepalive 128;
    keepalive_requests 1000000;
  }
  server {
    listen 127.0.0.1:${o.httpPort};
    listen 127.0.0.1:${o.httpsPort} ssl http2;
    server_name ${o.host};
    ssl_certificate ${o.certFile};
    ssl_certificate_key ${o.keyFile};
    ssl_session_cache off;
    ssl_session_tickets off;
    location / {
      proxy_pass http://echo;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $host;
      proxy_set_header X-Real-IP $remote_addr;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Host $host;
      proxy_set_header X-Forwarded-Port $server_port;
      proxy_set_header X-Forwarded-Proto $scheme;
    }
  }
}
`;
}

/** The flags that run nginx in the foreground as one unprivileged process, with `dir` as prefix. */
export function nginxArgs(dir: string, test = false): string[] {
  return ['-p', dir, '-c', join(dir, 'nginx.conf'), '-e', join(dir, 'error.log'), ...(test ? ['-t', '-q'] : ['-g', 'daemon off; master_process off;'])];
}

/** Writes the configuration, certificate and temp directories into a fresh temporary directory. */
export function writeNginxDir(o: Omit<NginxConfigOptions, 'dir' | 'certFile' | 'keyFile'> & { cert: string; key: string }): string {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-nginx-'));
  mkdirSync(join(dir, 'tmp'));
  const certFile = join(dir, 'cert.pem');
  const keyFile = join(dir, 'key.pem');
  writeFileSync(certFile, o.cert);
  writeFileSync(keyFile, o.key, { mode: 0o600 });
  writeFileSync(join(dir, 'nginx.conf'), nginxConfig({ ...o, dir, certFile, keyFile }));
  return dir;
}

export interface Nginx {
  child: Child;
  httpPort: number;
  httpsPort: number;
  dir: string;
  stop(): Promise<void>;
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createConnection({ host: '127.0.0.1', port }, () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

/** Starts nginx in front of `upstreamPort`; ready once both ports accept connections. */
export async function startNginx(o: { host: string; upstreamPort: number; cert: string; key: string }): Promise<Nginx> {
  const [httpPort, httpsPort] = [await freePort(), await freePort()];
  const dir = writeNginxDir({ ...o, httpPort, httpsPort });
  const child = startProcess('nginx', NGINX, nginxArgs(dir));
  const stop = async () => {
    await child.stop(5000);
    rmSync(dir, { recursive: true, force: true });
  };
  let gaveUp = false;
  const listening = (async () => {
    while (!gaveUp && !((await accepts(httpPort)) && (await accepts(httpsPort)))) await new Promise((r) => setTimeout(r, 50));
  })();
  try {
    await untilReady(child, listening, 10_000, 'listening');
  } catch (err) {
    gaveUp = true;
    await stop();
    throw err;
  }
  return { child, httpPort, httpsPort, dir, stop };
}
