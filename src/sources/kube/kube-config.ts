// Which API server and credentials: --kubeconfig, else the in-cluster service account, else
// $KUBECONFIG / ~/.kube/config (ingress-nginx's order); --apiserver-host overrides the server
// (an http:// server, e.g. `kubectl proxy`, needs no TLS). HTTPS_PROXY / HTTP_PROXY /
// NO_PROXY apply when the kubeconfig names no proxy-url of its own.

import { KubeConfig } from '@kubernetes/client-node';

export interface KubeConfigOptions {
  kubeconfig: string | null;
  apiserverHost: string | null;
}

function noProxy(host: string, env: NodeJS.ProcessEnv): boolean {
  const list = (env.NO_PROXY ?? env.no_proxy ?? '').split(',').map((s) => s.trim().toLowerCase()).filter(Boolean);
  const h = host.toLowerCase();
  return list.some((entry) => entry === '*' || h === entry.replace(/^\./, '') || h.endsWith(entry.startsWith('.') ? entry : `.${entry}`));
}

/** The proxy URL for `server` from the environment, or undefined. */
export function proxyFromEnv(server: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const url = new URL(server);
  const proxy = url.protocol === 'https:' ? (env.HTTPS_PROXY ?? env.https_proxy) : (env.HTTP_PROXY ?? env.http_proxy);
  if (!proxy || noProxy(url.hostname, env)) return undefined;
  return proxy;
}

export function loadKubeConfig(options: KubeConfigOptions, env: NodeJS.ProcessEnv = process.env): KubeConfig {
  const kc = new KubeConfig();
  if (options.kubeconfig !== null) kc.loadFromFile(options.kubeconfig);
  else if (env.KUBERNETES_SERVICE_HOST && env.KUBERNETES_SERVICE_PORT) kc.loadFromCluster();
  else kc.loadFromDefault();

  const current = kc.getCurrentCluster();
  if (options.apiserverHost !== null || (current && !current.proxyUrl && proxyFromEnv(current.server, env))) {
    const server = options.apiserverHost ?? current!.server;
    const cluster = {
      ...(current ?? { name: 'gatehouse', skipTLSVerify: false }),
      server,
      proxyUrl: current?.proxyUrl ?? proxyFromEnv(server, env),
      skipTLSVerify: server.startsWith('http://') ? true : (current?.skipTLSVerify ?? false),
    };
    const user = kc.getCurrentUser() ?? { name: 'gatehouse' };
    const context = { name: 'gatehouse', cluster: cluster.name, user: user.name };
    kc.loadFromOptions({ clusters: [cluster], users: [user], contexts: [context], currentContext: context.name });
  }
  if (!kc.getCurrentCluster()) throw new Error('no Kubernetes API server configured: pass --kubeconfig, --apiserver-host, or run in a cluster');
  return kc;
}
