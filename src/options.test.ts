import { describe, expect, it } from 'vitest';
import { GatehouseError } from './errors.ts';
import { compileOptions, defaults, parseOptions } from './options.ts';

function failure(argv: string[]): GatehouseError {
  try {
    parseOptions(argv);
  } catch (err) {
    if (err instanceof GatehouseError) return err;
    throw err;
  }
  throw new Error('parseOptions accepted a bad command line');
}

describe('parseOptions', () => {
  it('uses the documented defaults', () => {
    const o = parseOptions([]);
    expect(o).toMatchObject({
      manifests: null, manifestsRescanInterval: 5, httpPort: 8080, httpsPort: 8443, statusPort: 10254, bindAddress: '0.0.0.0',
      ingressClass: 'gatehouse', controllerClass: 'gatehouse.io/ingress-controller',
      watchIngressWithoutClass: false, defaultBackendService: null, shutdownGracePeriod: 10, shutdownDelay: 5,
    });
    expect(o.workers).toBe(defaults().workers);
    expect(o.workers).toBeGreaterThan(0);
  });

  it('reads `--flag value` and `--flag=value`', () => {
    const o = parseOptions(['--manifests', '/m', '--http-port=9000', '--status-port', '0', '--workers', '3',
      '--default-backend-service', 'ns/svc', '--shutdown-grace-period=2.5', '--bind-address', '127.0.0.1',
      '--ingress-class', 'edge', '--controller-class', 'example.com/x']);
    expect(o).toMatchObject({ manifests: '/m', httpPort: 9000, statusPort: 0, workers: 3, defaultBackendService: 'ns/svc',
      shutdownGracePeriod: 2.5, bindAddress: '127.0.0.1', ingressClass: 'edge', controllerClass: 'example.com/x' });
  });

  it('reads the manifests re-scan interval in seconds, fractions and 0 (off) included', () => {
    expect(parseOptions(['--manifests', '/m', '--manifests-rescan-interval', '30']).manifestsRescanInterval).toBe(30);
    expect(parseOptions(['--manifests-rescan-interval=0.5']).manifestsRescanInterval).toBe(0.5);
    expect(parseOptions(['--manifests-rescan-interval=0']).manifestsRescanInterval).toBe(0);
  });

  it('reads the Kubernetes-mode flags', () => {
    const o = parseOptions(['--kubeconfig', '/k', '--apiserver-host', 'http://127.0.0.1:8001/', '--watch-namespace', 'team-a',
      '--publish-service', 'gatehouse/gatehouse', '--publish-status-address', '192.0.2.1, lb.example.com', '--election-id', 'x', '--update-status=false']);
    expect(o).toMatchObject({ kubeconfig: '/k', apiserverHost: 'http://127.0.0.1:8001', watchNamespace: 'team-a', publishService: 'gatehouse/gatehouse',
      publishStatusAddress: ['192.0.2.1', 'lb.example.com'], electionId: 'x', updateStatus: false });
    expect(parseOptions([])).toMatchObject({ kubeconfig: null, apiserverHost: null, watchNamespace: null, electionId: 'gatehouse-leader', updateStatus: true });
  });

  it('reads the TLS flags', () => {
    const o = parseOptions(['--default-ssl-certificate', 'ns/cert', '--default-ssl-redirect=false', '--https-redirect-port', '8443', '--hsts', '--hsts-max-age', '60', '--hsts-preload']);
    expect(o).toMatchObject({ defaultSslCertificate: 'ns/cert', defaultSslRedirect: false, httpsRedirectPort: 8443, hsts: true, hstsMaxAge: 60, hstsPreload: true, hstsIncludeSubdomains: true });
  });

  it('reads the request limits, 100 header lines and 16 KiB by default', () => {
    expect(parseOptions([])).toMatchObject({ maxRequestHeaders: 100, maxRequestHeaderBytes: 16_384 });
    expect(parseOptions(['--max-request-headers', '20', '--max-request-header-bytes=8192'])).toMatchObject({ maxRequestHeaders: 20, maxRequestHeaderBytes: 8192 });
  });

  it('reads the rate-limit status codes, 503 by default (ingress-nginx limit-req-status-code, limit-conn-status-code)', () => {
    expect(parseOptions([])).toMatchObject({ limitReqStatusCode: 503, limitConnStatusCode: 503 });
    const o = parseOptions(['--limit-req-status-code', '429', '--limit-conn-status-code=599']);
    expect(o).toMatchObject({ limitReqStatusCode: 429, limitConnStatusCode: 599 });
    expect(compileOptions(o)).toMatchObject({ limitReqStatusCode: 429, limitConnStatusCode: 599 });
  });

  it('reads --configmap and --use-proxy-protocol, none and false by default, into the compile options', () => {
    expect(parseOptions([])).toMatchObject({ configmap: null, useProxyProtocol: false });
    const o = parseOptions(['--configmap', 'gatehouse/gatehouse', '--use-proxy-protocol']);
    expect(o).toMatchObject({ configmap: 'gatehouse/gatehouse', useProxyProtocol: true });
    expect(compileOptions(o)).toMatchObject({ configMap: 'gatehouse/gatehouse', useProxyProtocol: true });
    expect(failure(['--configmap', 'gatehouse']).message).toMatch(/^--configmap: expected NAMESPACE\/NAME/);
  });

  it('reads the observability flags: metrics on, every request logged to standard output, no spans by default', () => {
    expect(parseOptions([])).toMatchObject({ enableMetrics: true, accessLogSample: 1, accessLogPath: null, otlpEndpoint: null, otlpSampleRatio: 0.01 });
    const o = parseOptions(['--enable-metrics=false', '--access-log-sample', '0.25', '--access-log-path', '/var/log/access.log', '--otlp-endpoint', 'http://collector:4318/', '--otlp-sample-ratio=1']);
    expect(o).toMatchObject({ enableMetrics: false, accessLogSample: 0.25, accessLogPath: '/var/log/access.log', otlpEndpoint: 'http://collector:4318', otlpSampleRatio: 1 });
    expect(parseOptions(['--access-log-sample', '0']).accessLogSample).toBe(0);
    for (const bad of ['1.5', '-0.1', 'half', '2', '']) expect(failure(['--access-log-sample', bad]).message).toMatch(/^--access-log-sample: expected a ratio 0-1/);
    expect(failure(['--otlp-endpoint', 'collector:4318']).message).toMatch(/^--otlp-endpoint: expected an http:\/\/ or https:\/\/ URL/);
  });

  it('reads booleans bare or with =true/=false', () => {
    expect(parseOptions(['--watch-ingress-without-class']).watchIngressWithoutClass).toBe(true);
    expect(parseOptions(['--watch-ingress-without-class=false']).watchIngressWithoutClass).toBe(false);
  });

  it.each([
    [['--http-port', 'abc'], '--http-port'],
    [['--http-port', '70000'], '--http-port'],
    [['--workers', '0'], '--workers'],
    [['--default-backend-service', 'noslash'], '--default-backend-service'],
    [['--watch-ingress-without-class=yes'], '--watch-ingress-without-class'],
    [['--no-such-flag'], '--no-such-flag'],
    [['--manifests'], '--manifests'],
    [['--bind-address', 'localhost'], '--bind-address'],
    [['stray'], 'stray'],
    [['--apiserver-host', 'ftp://x'], '--apiserver-host'],
    [['--watch-namespace', 'Bad_NS'], '--watch-namespace'],
    [['--publish-status-address', 'a b'], '--publish-status-address'],
    [['--hsts-max-age', '-1'], '--hsts-max-age'],
    [['--max-request-headers', '0'], '--max-request-headers'],
    [['--max-request-header-bytes', '100'], '--max-request-header-bytes'],
    [['--limit-req-status-code', '200'], '--limit-req-status-code'],
    [['--limit-conn-status-code', '4291'], '--limit-conn-status-code'],
    [['--manifests-rescan-interval', '-1'], '--manifests-rescan-interval'],
    [['--manifests-rescan-interval', '5s'], '--manifests-rescan-interval'],
    [['--manifests-rescan-interval'], '--manifests-rescan-interval'],
  ])('refuses %j with a one-line error naming the flag', (argv, flag) => {
    const err = failure(argv);
    expect(err.code).toBe('GH_FLAG_INVALID');
    expect(err.message).toContain(flag);
    expect(err.message).not.toContain('\n');
  });
});
