// Raw JSON requests to the Kubernetes API with the kubeconfig's authentication, TLS and
// proxy settings (client-node's RequestContext + undici fetch, as its Watch does). Raw JSON,
// not client-node's typed models: those turn timestamps into Date objects and drop unknown
// fields, and the informers' watch events are raw JSON anyway.

import { HttpMethod, RequestContext, type KubeConfig } from '@kubernetes/client-node';
import { fetch } from 'undici';

export class KubeApiError extends Error {
  readonly statusCode: number;
  readonly reason: string;
  constructor(statusCode: number, reason: string, message: string) {
    super(message);
    this.name = 'KubeApiError';
    this.statusCode = statusCode;
    this.reason = reason;
  }
}

export type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

export interface RequestOptions {
  query?: Record<string, string | undefined>;
  body?: unknown;
  /** For PATCH: `application/merge-patch+json` by default. */
  contentType?: string;
  timeoutMs?: number;
}

export class KubeHttp {
  readonly kc: KubeConfig;

  constructor(kc: KubeConfig) {
    this.kc = kc;
  }

  async request<T = unknown>(method: Method, path: string, options: RequestOptions = {}): Promise<T> {
    const cluster = this.kc.getCurrentCluster();
    if (!cluster) throw new Error('the kubeconfig has no current cluster');
    const url = new URL(cluster.server.replace(/\/+$/, '') + path);
    for (const [k, v] of Object.entries(options.query ?? {})) if (v !== undefined) url.searchParams.set(k, v);
    const ctx = new RequestContext(url.toString(), HttpMethod[method]);
    await this.kc.applySecurityAuthentication(ctx);
    const headers: Record<string, string> = { ...ctx.getHeaders(), accept: 'application/json' };
    let body: string | undefined;
    if (options.body !== undefined) {
      body = JSON.stringify(options.body);
      headers['content-type'] = options.contentType ?? (method === 'PATCH' ? 'application/merge-patch+json' : 'application/json');
    }
    const res = await fetch(url, {
      method,
      headers,
      body,
      dispatcher: ctx.getDispatcher(),
      signal: AbortSignal.timeout(options.timeoutMs ?? 30_000),
    });
    const text = await res.text();
    let json: unknown = undefined;
    try {
      json = text === '' ? undefined : JSON.parse(text);
    } catch {
      // not JSON: keep the status code
    }
    if (res.status >= 400) {
      const status = json as { reason?: string; message?: string } | undefined;
      throw new KubeApiError(res.status, status?.reason ?? '', `${method} ${path}: ${res.status} ${status?.message ?? text.slice(0, 200)}`);
    }
    return json as T;
  }
}
