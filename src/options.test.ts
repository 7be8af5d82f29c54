import { describe, expect, it } from 'vitest';
import { GatehouseError } from './errors.ts';
import { defaults, parseOptions } from './options.ts';

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
      manifests: null, httpPort: 8080, httpsPort: 8443, statusPort: 10254, bindAddress: '0.0.0.0',
      ingressClass: 'gatehouse', controllerClass: 'gatehouse.io/ingress-controller',
      watchIngressWithoutClass: false, defaultBackendService: null, shutdownGracePeriod: 10,
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
  ])('refuses %j with a one-line error naming the flag', (argv, flag) => {
    const err = failure(argv);
    expect(err.code).toBe('GH_FLAG_INVALID');
    expect(err.message).toContain(flag);
    expect(err.message).not.toContain('\n');
  });
});
