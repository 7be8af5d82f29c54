import { describe, expect, it } from 'vitest';
import { annotated, expectRefused, fuzzAnnotation } from '../../../test/support/annotation-fuzz.ts';
import { readServiceUpstream } from './service-upstream.ts';

const UPSTREAM = 'nginx.ingress.kubernetes.io/service-upstream';

describe('service-upstream', () => {
  it('reads a boolean, the ConfigMap default when absent', () => {
    expect(readServiceUpstream(annotated({}))).toEqual({ ok: true, value: false });
    expect(readServiceUpstream(annotated({}), true)).toEqual({ ok: true, value: true });
    expect(readServiceUpstream(annotated({ [UPSTREAM]: 'true' }))).toEqual({ ok: true, value: true });
    expect(readServiceUpstream(annotated({ [UPSTREAM]: 'False' }), true)).toEqual({ ok: true, value: false });
  });

  it('refuses a value that is not a boolean', () => {
    expectRefused(readServiceUpstream(annotated({ [UPSTREAM]: 'yes' })), UPSTREAM, 'yes', 'is not a boolean');
  });

  it('never throws on random values, and yields no control characters (fast-check)', () => {
    fuzzAnnotation([UPSTREAM], (ing) => readServiceUpstream(ing));
  });
});
