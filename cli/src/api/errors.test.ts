import { Metadata, status, type ServiceError } from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import { ExitCode } from '../errors';
import { fromServiceError, isServiceError, statusName } from './errors';

function serviceError(code: status, details: string): ServiceError {
  return Object.assign(new Error(`${code} ${statusName(code)}: ${details}`), { code, details, metadata: new Metadata() });
}

describe('fromServiceError', () => {
  it('UNAVAILABLE means the coordinator is unreachable: exit 3', () => {
    const err = fromServiceError(
      serviceError(status.UNAVAILABLE, 'No connection established. Last error: connect ECONNREFUSED. Resolution note: '),
      '127.0.0.1:1',
    );
    expect(err.exitCode).toBe(ExitCode.Unreachable);
    expect(err.message).toBe(
      'cannot reach coordinator at 127.0.0.1:1: No connection established. Last error: connect ECONNREFUSED.',
    );
  });

  it('a deadline while never connected is unreachable too; otherwise it is an error', () => {
    expect(fromServiceError(serviceError(status.DEADLINE_EXCEEDED, 'x'), 'a:1', true).exitCode).toBe(3);
    expect(fromServiceError(serviceError(status.DEADLINE_EXCEEDED, 'x'), 'a:1', false).exitCode).toBe(1);
  });

  it('other codes print the status name and details: exit 1', () => {
    const err = fromServiceError(serviceError(status.NOT_FOUND, 'job j not found'), 'a:1');
    expect(err.exitCode).toBe(ExitCode.Failure);
    expect(err.message).toBe('NOT_FOUND: job j not found');
  });

  it('isServiceError recognizes grpc-js errors only', () => {
    expect(isServiceError(serviceError(status.INTERNAL, 'x'))).toBe(true);
    expect(isServiceError(new Error('x'))).toBe(false);
  });
});
