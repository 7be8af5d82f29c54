import { describe, expect, it } from 'vitest';
import { encodeGrpcMessage } from './grpc-status.ts';

describe('encodeGrpcMessage', () => {
  it('percent-encodes "%" and bytes outside printable ASCII (gRPC PROTOCOL-HTTP2.md, Status-Message)', () => {
    expect(encodeGrpcMessage('gatehouse: no ready endpoint')).toBe('gatehouse: no ready endpoint');
    expect(encodeGrpcMessage('100% down\n')).toBe('100%25 down%0A');
    expect(encodeGrpcMessage('café')).toBe('caf%C3%A9');
  });
});
