// Command-line flags. Names follow ingress-nginx's controller flags where one exists
// (https://kubernetes.github.io/ingress-nginx/user-guide/cli-arguments/). A bad flag or
// value stops the program at start with one line naming the flag.

import { availableParallelism } from 'node:os';
import { GatehouseError } from './errors.ts';

export interface Options {
  manifests: string | null;
  /** Local mode: seconds between the safety-net re-scans of --manifests; 0: none. */
  manifestsRescanInterval: number;
  httpPort: number;
  httpsPort: number;
  statusPort: number;
  bindAddress: string;
  /** --status-bind-address; null: statusBindAddress() decides (127.0.0.1 outside a cluster). */
  statusBindAddress: string | null;
  workers: number;
  ingressClass: string;
  controllerClass: string;
  watchIngressWithoutClass: boolean;
  defaultBackendService: string | null;
  shutdownGracePeriod: number;
  /** SIGTERM: seconds of serving while /readyz says 503, before the drain (load balancers and endpoints catch up). */
  shutdownDelay: number;
  /** Seconds to wait for a TCP connection to an upstream (ingress-nginx proxy-connect-timeout). */
  proxyConnectTimeout: number;
  /** Seconds to wait for response headers and between body reads (ingress-nginx proxy-read-timeout). */
  proxyReadTimeout: number;
  /** Seconds an upstream may leave the request body unread (ingress-nginx proxy-send-timeout). */
  proxySendTimeout: number;
  logLevel: 'debug' | 'info' | 'warn' | 'error' | 'silent';
  /** Most header lines a request may carry; more answer 431 (HAProxy's tune.http.maxhdr is 100). */
  maxRequestHeaders: number;
  /** Most bytes of request line and headers; more answer 431 (Node's own default, 16 KiB). */
  maxRequestHeaderBytes: number;
  // Kubernetes mode (no --manifests).
  kubeconfig: string | null;
  apiserverHost: string | null;
  /** Limit to one namespace; null: all. */
  watchNamespace: string | null;
  publishService: string | null;
  publishStatusAddress: string[] | null;
  electionId: string;
  updateStatus: boolean;
  // TLS and redirects (ingress-nginx flag and ConfigMap names).
  /** NS/NAME of the kubernetes.io/tls Secret for no SNI and unmatched names; null: self-signed. */
  defaultSslCertificate: string | null;
  /** The ssl-redirect annotation's default. */
  defaultSslRedirect: boolean;
  /** The port https redirects name (443: none in the URL). */
  httpsRedirectPort: number;
  hsts: boolean;
  hstsMaxAge: number;
  hstsIncludeSubdomains: boolean;
  hstsPreload: boolean;
  /** ConfigMap limit-req-status-code / limit-conn-status-code: answers over limit-rps/rpm and limit-connections. */
  limitReqStatusCode: number;
  limitConnStatusCode: number;
  // ACME HTTP-01 (gatehouse.io/acme Ingresses).
  /** The ACME directory URL; null: ACME off. */
  acmeDirectory: string | null;
  /** Account contact (mailto:), or null. */
  acmeEmail: string | null;
  /** Local mode: where certificates (as Secret manifests) and the account key are kept. */
  acmeStorage: string | null;
  /** PEM file of extra CAs to trust for the ACME directory's HTTPS (a test CA such as pebble's). */
  acmeCaFile: string | null;
  // ingress-nginx's ConfigMap of global settings (core/global-config.ts).
  /** NS/NAME of the ConfigMap; null: none (the defaults). */
  configmap: string | null;
  /** use-proxy-protocol when the ConfigMap does not set it. */
  useProxyProtocol: boolean;
  // Observability (docs/metrics.md).
  /** Prometheus metrics at the status port's /metrics. */
  enableMetrics: boolean;
  /** The share of requests written to the access log, 0-1; 0: none. */
  accessLogSample: number;
  /** File the access log is appended to; null: standard output. */
  accessLogPath: string | null;
  /** OTLP/HTTP endpoint spans are posted to (JSON); null: none. */
  otlpEndpoint: string | null;
  /** The share of new traces sampled (a client's sampled flag is followed). */
  otlpSampleRatio: number;
}

type Kind = 'ratio' | 'port' | 'count' | 'seconds' | 'string' | 'nsname' | 'bool' | 'ip' | 'level' | 'url' | 'namespace' | 'addresses' | 'uint' | 'email' | 'headers' | 'bytes' | 'status';

interface Flag {
  key: keyof Options;
  kind: Kind;
  help: string;
}

const FLAGS: Record<string, Flag> = {
  manifests: { key: 'manifests', kind: 'string', help: 'local mode: read and watch the *.yaml, *.yml, *.json manifests under DIR' },
  'manifests-rescan-interval': { key: 'manifestsRescanInterval', kind: 'seconds', help: 'local mode: seconds between re-scans of --manifests for changes no watch reported (files symlinked from outside it, watch limits); 0 turns them off (default 5)' },
  'http-port': { key: 'httpPort', kind: 'port', help: 'HTTP listener port (default 8080)' },
  'https-port': { key: 'httpsPort', kind: 'port', help: 'HTTPS listener port: TLS by SNI, HTTP/2 and HTTP/1.1 (default 8443)' },
  'status-port': { key: 'statusPort', kind: 'port', help: 'admin server: /healthz, /readyz, /metrics, /debug/*, /dashboard (default 10254)' },
  'bind-address': { key: 'bindAddress', kind: 'ip', help: 'address the traffic listeners bind to (default 0.0.0.0)' },
  'status-bind-address': { key: 'statusBindAddress', kind: 'ip', help: 'address the admin server binds to (default 127.0.0.1; in a pod, --bind-address; deploy/ sets the pod IP); one that is not loopback gets 127.0.0.1 beside it' },
  workers: { key: 'workers', kind: 'count', help: 'data-plane worker threads (default: CPU count)' },
  'ingress-class': { key: 'ingressClass', kind: 'string', help: 'our IngressClass name and legacy annotation value (default gatehouse)' },
  'controller-class': { key: 'controllerClass', kind: 'string', help: 'the IngressClass spec.controller we own (default gatehouse.io/ingress-controller)' },
  'watch-ingress-without-class': { key: 'watchIngressWithoutClass', kind: 'bool', help: 'also take Ingresses with no class' },
  'default-backend-service': { key: 'defaultBackendService', kind: 'nsname', help: 'NS/NAME of the Service for unmatched requests (default: built-in 404)' },
  'shutdown-grace-period': { key: 'shutdownGracePeriod', kind: 'seconds', help: 'seconds to drain in-flight requests on SIGTERM (default 10)' },
  'shutdown-delay': { key: 'shutdownDelay', kind: 'seconds', help: 'on SIGTERM, seconds to keep serving while /readyz says 503, before the drain begins (default 5)' },
  'proxy-connect-timeout': { key: 'proxyConnectTimeout', kind: 'seconds', help: 'seconds to connect to an upstream (default 5)' },
  'proxy-read-timeout': { key: 'proxyReadTimeout', kind: 'seconds', help: 'seconds to wait for upstream response data (default 60)' },
  'proxy-send-timeout': { key: 'proxySendTimeout', kind: 'seconds', help: 'seconds an upstream may leave the request body unread (default 60)' },
  'max-request-headers': { key: 'maxRequestHeaders', kind: 'headers', help: 'most header lines a request may carry; more answer 431 (default 100)' },
  'max-request-header-bytes': { key: 'maxRequestHeaderBytes', kind: 'bytes', help: 'most bytes of request line and headers; more answer 431 (default 16384)' },
  kubeconfig: { key: 'kubeconfig', kind: 'string', help: 'Kubernetes mode: kubeconfig file (default: in-cluster service account, else $KUBECONFIG or ~/.kube/config)' },
  'apiserver-host': { key: 'apiserverHost', kind: 'url', help: 'Kubernetes API server URL, e.g. http://127.0.0.1:8001 through kubectl proxy' },
  'watch-namespace': { key: 'watchNamespace', kind: 'namespace', help: 'watch only this namespace (default: all)' },
  'publish-service': { key: 'publishService', kind: 'nsname', help: 'NS/NAME of the Service whose load-balancer addresses go into Ingress status' },
  'publish-status-address': { key: 'publishStatusAddress', kind: 'addresses', help: 'comma-separated IPs or hostnames for Ingress status, instead of --publish-service' },
  'election-id': { key: 'electionId', kind: 'string', help: 'name of the leader-election Lease, in $POD_NAMESPACE (default gatehouse-leader)' },
  'update-status': { key: 'updateStatus', kind: 'bool', help: 'write Ingress status (default true; --update-status=false turns it off)' },
  'default-ssl-certificate': { key: 'defaultSslCertificate', kind: 'nsname', help: 'NS/NAME of the kubernetes.io/tls Secret served without SNI or for unmatched names (default: a self-signed one made at start)' },
  'default-ssl-redirect': { key: 'defaultSslRedirect', kind: 'bool', help: 'redirect plain HTTP to https for hosts with TLS unless an Ingress says ssl-redirect: "false" (default true)' },
  'https-redirect-port': { key: 'httpsRedirectPort', kind: 'port', help: 'the port https redirects name; 443 puts none in the URL (default 443)' },
  hsts: { key: 'hsts', kind: 'bool', help: 'send Strict-Transport-Security on HTTPS responses (default false)' },
  'hsts-max-age': { key: 'hstsMaxAge', kind: 'uint', help: 'HSTS max-age in seconds (default 31536000)' },
  'hsts-include-subdomains': { key: 'hstsIncludeSubdomains', kind: 'bool', help: 'HSTS includeSubDomains (default true)' },
  'hsts-preload': { key: 'hstsPreload', kind: 'bool', help: 'HSTS preload (default false)' },
  'limit-req-status-code': { key: 'limitReqStatusCode', kind: 'status', help: 'status of a request over limit-rps or limit-rpm (default 503)' },
  'limit-conn-status-code': { key: 'limitConnStatusCode', kind: 'status', help: 'status of a request over limit-connections (default 503)' },
  'acme-directory': { key: 'acmeDirectory', kind: 'url', help: 'ACME directory URL: Ingresses annotated gatehouse.io/acme: "true" get certificates for their spec.tls hosts by HTTP-01 (default: ACME off)' },
  'acme-email': { key: 'acmeEmail', kind: 'email', help: 'contact address of the ACME account' },
  'acme-storage': { key: 'acmeStorage', kind: 'string', help: 'local mode: DIR for the ACME certificates (as kubernetes.io/tls Secret manifests) and account key; required with --acme-directory and --manifests' },
  'acme-ca-file': { key: 'acmeCaFile', kind: 'string', help: 'PEM file of CA certificates to trust, besides the system ones, for the ACME directory\'s HTTPS (a test CA)' },
  configmap: { key: 'configmap', kind: 'nsname', help: 'NS/NAME of an ingress-nginx-style ConfigMap of global settings (use-forwarded-headers, proxy-real-ip-cidr, proxy-body-size, ...; docs/annotations.md); local mode: a ConfigMap in the manifests' },
  'use-proxy-protocol': { key: 'useProxyProtocol', kind: 'bool', help: 'expect a PROXY protocol (v1 or v2) header on every connection, as the ConfigMap key use-proxy-protocol, which overrides it (default false)' },
  'log-level': { key: 'logLevel', kind: 'level', help: 'log level: debug, info, warn, error, silent (default info)' },
  'enable-metrics': { key: 'enableMetrics', kind: 'bool', help: 'Prometheus metrics of the requests at the status port\'s /metrics (default true; docs/metrics.md)' },
  'access-log-sample': { key: 'accessLogSample', kind: 'ratio', help: 'the share of requests written to the access log, 0-1; 0 turns it off (default 1)' },
  'access-log-path': { key: 'accessLogPath', kind: 'string', help: 'file the access log (one JSON line per request) is appended to (default: standard output)' },
  'otlp-endpoint': { key: 'otlpEndpoint', kind: 'url', help: 'OTLP/HTTP collector URL: spans of sampled requests are posted to it (JSON, /v1/traces) in batches (default: none)' },
  'otlp-sample-ratio': { key: 'otlpSampleRatio', kind: 'ratio', help: 'with --otlp-endpoint, the share of new traces sampled, 0-1; a client\'s traceparent decides its own (default 0.01, as ingress-nginx\'s otel-sampler-ratio)' },
};

export function defaults(): Options {
  return {
    manifests: null,
    manifestsRescanInterval: 5,
    httpPort: 8080,
    httpsPort: 8443,
    statusPort: 10254,
    bindAddress: '0.0.0.0',
    statusBindAddress: null,
    workers: availableParallelism(),
    ingressClass: 'gatehouse',
    controllerClass: 'gatehouse.io/ingress-controller',
    watchIngressWithoutClass: false,
    defaultBackendService: null,
    shutdownGracePeriod: 10,
    shutdownDelay: 5,
    proxyConnectTimeout: 5,
    proxyReadTimeout: 60,
    proxySendTimeout: 60,
    logLevel: 'info',
    maxRequestHeaders: 100,
    maxRequestHeaderBytes: 16_384,
    kubeconfig: null,
    apiserverHost: null,
    watchNamespace: null,
    publishService: null,
    publishStatusAddress: null,
    electionId: 'gatehouse-leader',
    updateStatus: true,
    defaultSslCertificate: null,
    defaultSslRedirect: true,
    httpsRedirectPort: 443,
    hsts: false,
    hstsMaxAge: 31_536_000,
    hstsIncludeSubdomains: true,
    hstsPreload: false,
    limitReqStatusCode: 503,
    limitConnStatusCode: 503,
    acmeDirectory: null,
    acmeEmail: null,
    acmeStorage: null,
    acmeCaFile: null,
    configmap: null,
    useProxyProtocol: false,
    enableMetrics: true,
    accessLogSample: 1,
    accessLogPath: null,
    otlpEndpoint: null,
    otlpSampleRatio: 0.01,
  };
}

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
const NAMESPACE = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const HOSTNAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/i;
// An address the ACME CA takes as a mailto: contact: local@domain, no spaces, commas or angle brackets.
const EMAIL = /^[^\s@,<>]+@[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)+$/i;
const NSNAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?\/[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;

function bad(flag: string, message: string): GatehouseError {
  return new GatehouseError('GH_FLAG_INVALID', `--${flag}: ${message}`);
}

function convert(flag: string, kind: Kind, value: string): Options[keyof Options] {
  switch (kind) {
    case 'ratio': {
      const n = /^(0|1)(\.\d+)?$/.test(value) ? Number(value) : NaN;
      if (!(n >= 0 && n <= 1)) throw bad(flag, `expected a ratio 0-1, got ${JSON.stringify(value)}`);
      return n;
    }
    case 'port': {
      const n = /^\d{1,5}$/.test(value) ? Number(value) : NaN;
      if (!(n >= 0 && n <= 65535)) throw bad(flag, `expected a port number 0-65535, got ${JSON.stringify(value)}`);
      return n;
    }
    case 'count': {
      const n = /^\d{1,3}$/.test(value) ? Number(value) : NaN;
      if (!(n >= 1 && n <= 256)) throw bad(flag, `expected a whole number 1-256, got ${JSON.stringify(value)}`);
      return n;
    }
    case 'uint': {
      const n = /^\d{1,10}$/.test(value) ? Number(value) : NaN;
      if (!(n <= 2 ** 31 - 1)) throw bad(flag, `expected a whole number 0-${2 ** 31 - 1}, got ${JSON.stringify(value)}`);
      return n;
    }
    case 'headers': {
      const n = /^\d{1,5}$/.test(value) ? Number(value) : NaN;
      if (!(n >= 1 && n <= 10_000)) throw bad(flag, `expected a number of header lines 1-10000, got ${JSON.stringify(value)}`);
      return n;
    }
    case 'bytes': {
      const n = /^\d{1,8}$/.test(value) ? Number(value) : NaN;
      if (!(n >= 1024 && n <= 1_048_576)) throw bad(flag, `expected bytes 1024-1048576, got ${JSON.stringify(value)}`);
      return n;
    }
    case 'status': {
      // nginx's limit_req_status and limit_conn_status take 400-599.
      const n = /^\d{3}$/.test(value) ? Number(value) : NaN;
      if (!(n >= 400 && n <= 599)) throw bad(flag, `expected a status code 400-599, got ${JSON.stringify(value)}`);
      return n;
    }
    case 'seconds': {
      const n = /^\d+(\.\d+)?$/.test(value) ? Number(value) : NaN;
      if (!(n >= 0 && n <= 86400)) throw bad(flag, `expected seconds 0-86400, got ${JSON.stringify(value)}`);
      return n;
    }
    case 'bool':
      if (value === 'true') return true;
      if (value === 'false') return false;
      throw bad(flag, `expected true or false, got ${JSON.stringify(value)}`);
    case 'nsname':
      if (!NSNAME.test(value)) throw bad(flag, `expected NAMESPACE/NAME, got ${JSON.stringify(value)}`);
      return value;
    case 'ip':
      if (!IPV4.test(value) && !/^[0-9a-fA-F:]+$/.test(value)) throw bad(flag, `expected an IP address, got ${JSON.stringify(value)}`);
      return value;
    case 'level':
      if (!['debug', 'info', 'warn', 'error', 'silent'].includes(value)) throw bad(flag, `expected debug, info, warn, error or silent, got ${JSON.stringify(value)}`);
      return value;
    case 'string':
      if (value === '') throw bad(flag, 'expected a value');
      return value;
    case 'url':
      if (!/^https?:\/\/[^\s/]+(\/\S*)?$/.test(value) || !URL.canParse(value)) throw bad(flag, `expected an http:// or https:// URL, got ${JSON.stringify(value)}`);
      return value.replace(/\/+$/, '');
    case 'email':
      if (!EMAIL.test(value)) throw bad(flag, `expected an email address, got ${JSON.stringify(value)}`);
      return value;
    case 'namespace':
      if (!NAMESPACE.test(value)) throw bad(flag, `expected a namespace name, got ${JSON.stringify(value)}`);
      return value;
    case 'addresses': {
      const list = value.split(',').map((a) => a.trim()).filter((a) => a !== '');
      const badOne = list.find((a) => !IPV4.test(a) && !/^[0-9a-fA-F:]+$/.test(a) && !HOSTNAME.test(a));
      if (list.length === 0 || badOne !== undefined) throw bad(flag, `expected comma-separated IP addresses or hostnames, got ${JSON.stringify(badOne ?? value)}`);
      return list;
    }
  }
}

/** The ACME flags that only make sense together. */
function checkAcme(o: Options): void {
  if (o.acmeDirectory === null) {
    const stray = (['acmeEmail', 'acmeStorage', 'acmeCaFile'] as const).find((k) => o[k] !== null);
    if (stray !== undefined) throw bad(Object.keys(FLAGS).find((n) => FLAGS[n]!.key === stray)!, 'needs --acme-directory');
    return;
  }
  if (o.manifests !== null && o.acmeStorage === null) throw bad('acme-storage', 'required with --acme-directory in local mode (--manifests): certificates and the account key are kept there');
  if (o.manifests === null && o.acmeStorage !== null) throw bad('acme-storage', 'only in local mode (--manifests); in Kubernetes mode certificates go into their Secrets');
}

/** Parses `--flag value`, `--flag=value` and bare booleans (`--flag`, `--flag=false`). */
export function parseOptions(argv: readonly string[]): Options {
  const options = defaults();
  const record = options as unknown as Record<string, unknown>;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (!arg.startsWith('--')) throw new GatehouseError('GH_FLAG_INVALID', `unexpected argument ${JSON.stringify(arg)} (flags start with --)`);
    const body = arg.slice(2);
    const eq = body.indexOf('=');
    const name = eq === -1 ? body : body.slice(0, eq);
    const flag = FLAGS[name];
    if (!flag) throw new GatehouseError('GH_FLAG_INVALID', `--${name}: unknown flag (see --help)`);
    let value: string;
    if (eq !== -1) value = body.slice(eq + 1);
    else if (flag.kind === 'bool') value = 'true';
    else {
      const next = argv[++i];
      if (next === undefined) throw bad(name, 'expected a value');
      value = next;
    }
    record[flag.key] = convert(name, flag.kind, value);
  }
  checkAcme(options);
  return options;
}

export function usage(): string {
  const lines = Object.entries(FLAGS).map(([name, f]) => `  --${name.padEnd(30)} ${f.help}`);
  return `Usage: gatehouse [--manifests DIR | --kubeconfig PATH | --apiserver-host URL] [flags]\n       gatehouse check [--manifests DIR] [--output text|json] [flags]   (the migration report: docs/check.md)\n       gatehouse explain [--manifests DIR] [--output text|json] [flags] URL   (what happens to URL: docs/debugging.md)\n       gatehouse --version | --help\n\nWithout --manifests, Gatehouse runs in Kubernetes mode: --kubeconfig, else the in-cluster service account, else $KUBECONFIG or ~/.kube/config.\n\nFlags:\n${lines.join('\n')}\n`;
}

/**
 * Where the admin server listens: --status-bind-address, else 127.0.0.1 outside a cluster (its
 * /debug, /dashboard and /metrics are for this machine only), else, in a pod
 * ($KUBERNETES_SERVICE_HOST), --bind-address, so the kubelet's probes reach /healthz and /readyz
 * (deploy/ binds the pod IP and its NetworkPolicy limits who else may connect). A specific
 * address that is not loopback gets 127.0.0.1 beside it: `kubectl port-forward` connects to the
 * pod's loopback, and the machine itself may always look.
 */
export function statusBindAddresses(o: Pick<Options, 'statusBindAddress' | 'bindAddress'>, env: NodeJS.ProcessEnv = process.env): string[] {
  const address = o.statusBindAddress ?? (env.KUBERNETES_SERVICE_HOST ? o.bindAddress : '127.0.0.1');
  const coversLoopback = address.startsWith('127.') || address === '::1' || address === '0.0.0.0' || address === '::';
  return coversLoopback ? [address] : [address, '127.0.0.1'];
}

/** The part of the options the pure compile step reads. */
export function compileOptions(o: Options) {
  return {
    controllerClass: o.controllerClass,
    ingressClass: o.ingressClass,
    watchIngressWithoutClass: o.watchIngressWithoutClass,
    defaultBackendService: o.defaultBackendService,
    defaultSslRedirect: o.defaultSslRedirect,
    defaultSslCertificate: o.defaultSslCertificate,
    acme: o.acmeDirectory !== null,
    limitReqStatusCode: o.limitReqStatusCode,
    limitConnStatusCode: o.limitConnStatusCode,
    // Under the ConfigMap's proxy-*-timeout keys and the annotations (core/annotations/forward-policy.ts).
    proxyConnectTimeoutMs: o.proxyConnectTimeout * 1000,
    proxyReadTimeoutMs: o.proxyReadTimeout * 1000,
    proxySendTimeoutMs: o.proxySendTimeout * 1000,
    configMap: o.configmap,
    useProxyProtocol: o.useProxyProtocol,
  };
}
