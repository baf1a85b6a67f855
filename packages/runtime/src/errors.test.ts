import { status } from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import { SpindleError, invalidArgument, isSpindleError, toGrpcStatus } from './errors';

describe('toGrpcStatus', () => {
  it.each([
    ['INVALID_ARGUMENT', status.INVALID_ARGUMENT],
    ['NOT_FOUND', status.NOT_FOUND],
    ['FAILED_PRECONDITION', status.FAILED_PRECONDITION],
    ['RESOURCE_EXHAUSTED', status.RESOURCE_EXHAUSTED],
    ['UNAVAILABLE', status.UNAVAILABLE],
    ['UNAUTHENTICATED', status.UNAUTHENTICATED],
  ] as const)('maps %s to its gRPC status', (code, expected) => {
    expect(toGrpcStatus(new SpindleError(code, 'x')).code).toBe(expected);
  });

  it('names the offending field in details and metadata', () => {
    const s = toGrpcStatus(invalidArgument('spec.fetch.items[2].url', 'not a URL'));
    expect(s.details).toBe('spec.fetch.items[2].url: not a URL');
    expect(s.metadata?.get('spindle-field')).toEqual(['spec.fetch.items[2].url']);
  });

  it('turns an unnamed error into INTERNAL, never UNKNOWN', () => {
    expect(toGrpcStatus(new TypeError('boom'))).toMatchObject({ code: status.INTERNAL, details: 'internal error: boom' });
    expect(toGrpcStatus('a string').code).toBe(status.INTERNAL);
  });

  it('recognises SpindleErrors by marker, not by class identity', () => {
    const foreign = Object.assign(new Error('x'), { [Symbol.for('spindle.error')]: true, code: 'NOT_FOUND' });
    expect(isSpindleError(foreign)).toBe(true);
    expect(isSpindleError(new Error('x'))).toBe(false);
  });
});
