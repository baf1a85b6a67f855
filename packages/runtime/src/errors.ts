import { status, type ServiceError, type StatusObject, Metadata } from '@grpc/grpc-js';

/** Error codes of the services; each maps to one gRPC status in {@link toGrpcStatus}. */
export type SpindleErrorCode =
  | 'INVALID_ARGUMENT'
  | 'NOT_FOUND'
  | 'FAILED_PRECONDITION'
  | 'RESOURCE_EXHAUSTED'
  | 'UNAVAILABLE'
  | 'CANCELLED'
  | 'UNAUTHENTICATED'
  | 'ALREADY_EXISTS'
  | 'INTERNAL';

const kSpindleError = Symbol.for('spindle.error');

/**
 * The one error class the services throw. Matched by a marker rather than
 * `instanceof`, which fails across realms and duplicate package copies.
 */
export class SpindleError extends Error {
  readonly code: SpindleErrorCode;
  /** For INVALID_ARGUMENT: the offending request field, e.g. `spec.fetch.items[3].url`. */
  readonly field: string | undefined;
  readonly [kSpindleError] = true;

  constructor(code: SpindleErrorCode, message: string, options: { field?: string; cause?: unknown } = {}) {
    super(message, { cause: options.cause });
    this.name = 'SpindleError';
    this.code = code;
    this.field = options.field;
  }

  static override [Symbol.hasInstance](value: unknown): boolean {
    return typeof value === 'object' && value !== null && kSpindleError in value;
  }
}

/** Shorthand for an INVALID_ARGUMENT error naming the field. */
export function invalidArgument(field: string, message: string): SpindleError {
  return new SpindleError('INVALID_ARGUMENT', `${field}: ${message}`, { field });
}

export function isSpindleError(err: unknown): err is SpindleError {
  return err instanceof SpindleError;
}

export function isAbortError(err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as { name?: unknown }).name === 'AbortError';
}

export function getErrorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}

const statusByCode: Record<SpindleErrorCode, status> = {
  INVALID_ARGUMENT: status.INVALID_ARGUMENT,
  NOT_FOUND: status.NOT_FOUND,
  FAILED_PRECONDITION: status.FAILED_PRECONDITION,
  RESOURCE_EXHAUSTED: status.RESOURCE_EXHAUSTED,
  UNAVAILABLE: status.UNAVAILABLE,
  CANCELLED: status.CANCELLED,
  UNAUTHENTICATED: status.UNAUTHENTICATED,
  ALREADY_EXISTS: status.ALREADY_EXISTS,
  INTERNAL: status.INTERNAL,
};

/**
 * Maps any thrown value to a gRPC status. Named errors keep their code; anything
 * else is a bug: INTERNAL (never a silent UNKNOWN), and the caller logs it.
 */
export function toGrpcStatus(err: unknown): Partial<StatusObject> & { code: status; details: string } {
  if (isSpindleError(err)) {
    const metadata = new Metadata();
    if (err.field) metadata.set('spindle-field', err.field);
    return { code: statusByCode[err.code], details: err.message, metadata };
  }
  if (isAbortError(err)) return { code: status.CANCELLED, details: 'cancelled' };
  return { code: status.INTERNAL, details: `internal error: ${getErrorMessage(err)}` };
}

/** A grpc-js ServiceError for callbacks and `call.destroy`/`emit('error')`. */
export function toServiceError(err: unknown): ServiceError {
  const s = toGrpcStatus(err);
  const e = new Error(s.details) as ServiceError;
  e.code = s.code;
  e.details = s.details;
  e.metadata = s.metadata ?? new Metadata();
  return e;
}
