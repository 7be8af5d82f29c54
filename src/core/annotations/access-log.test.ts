import { describe, expect, it } from 'vitest';
import { readAccessLog } from './access-log.ts';

const ing = (annotations: Record<string, string>) => ({ apiVersion: 'networking.k8s.io/v1', kind: 'Ingress' as const, metadata: { name: 'i', namespace: 'ns', annotations } });

describe('enable-access-log', () => {
  it('is logged unless "false", under either prefix (ours wins)', () => {
    expect(readAccessLog(ing({}))).toEqual({ ok: true, value: undefined });
    expect(readAccessLog(ing({ 'nginx.ingress.kubernetes.io/enable-access-log': 'true' }))).toEqual({ ok: true, value: undefined });
    expect(readAccessLog(ing({ 'nginx.ingress.kubernetes.io/enable-access-log': 'false' }))).toEqual({ ok: true, value: false });
    expect(readAccessLog(ing({ 'nginx.ingress.kubernetes.io/enable-access-log': 'false', 'gatehouse.io/enable-access-log': 'true' }))).toEqual({ ok: true, value: undefined });
  });

  it('refuses a value that is no bool (ingress-nginx silently logs)', () => {
    const r = readAccessLog(ing({ 'nginx.ingress.kubernetes.io/enable-access-log': 'off' }));
    expect(r.ok).toBe(false);
    expect(!r.ok && r.problems[0]!.key).toBe('nginx.ingress.kubernetes.io/enable-access-log');
  });
});
