import { BinaryReader, WireType } from '@bufbuild/protobuf/wire';
import { ConnectRequest, WorkerServiceDefinition } from '@spindle/sdk';

/** Field numbers of the messages walked below (proto/spindle/v1/worker_service.proto). */
const REQUEST_RESULT = 5;
const REQUEST_RESULTS = 7;
const RESULTS_RESULTS = 1;

/** The encoded TaskResults of decoded Connect requests, in the order of the decoded results. */
const encoded = new WeakMap<ConnectRequest, Uint8Array[]>();

/**
 * The bytes each TaskResult of `request` had on the wire, in the order of its decoded
 * results; undefined when they are not known (then encode the decoded ones).
 */
export function encodedResultsOf(request: ConnectRequest): readonly Uint8Array[] | undefined {
  return encoded.get(request);
}

/**
 * Decodes a Connect request and, for `result` and `results`, keeps the bytes of every
 * TaskResult, which the coordinator stores as the task's outcome instead of encoding
 * the decoded result again. Measured on fetch results in batches of 8 (16,000 results):
 * decoding 0.60-0.64 µs per result, re-encoding it 0.84 µs more, this walk (tags and
 * lengths only) 0.27-0.30 µs more. The bytes are views of the request's buffer, which
 * nothing reuses.
 */
export function decodeConnectRequest(buf: Uint8Array): ConnectRequest {
  const request = ConnectRequest.decode(buf);
  const m = request.message;
  if (m?.$case !== 'result' && m?.$case !== 'results') return request;
  // A oneof field sent more than once decodes as its last occurrence, so the bytes found
  // here count only when they are exactly as many as the results decoded (see the end).
  const slices: Uint8Array[] = [];
  const reader = new BinaryReader(buf);
  while (reader.pos < reader.len) {
    const [field, wireType] = reader.tag();
    if (wireType === WireType.LengthDelimited && field === REQUEST_RESULT) {
      slices.push(reader.bytes());
    } else if (wireType === WireType.LengthDelimited && field === REQUEST_RESULTS) {
      const end = reader.uint32() + reader.pos;
      while (reader.pos < end) {
        const [f, w] = reader.tag();
        if (w === WireType.LengthDelimited && f === RESULTS_RESULTS) slices.push(reader.bytes());
        else reader.skip(w, f);
      }
    } else reader.skip(wireType, field);
  }
  const decoded = m.$case === 'result' ? 1 : m.value.results.length;
  if (slices.length === decoded) encoded.set(request, slices);
  return request;
}

/** WorkerService as served: the SDK's definition with {@link decodeConnectRequest}. */
export const workerServiceDefinition = {
  ...WorkerServiceDefinition,
  connect: {
    ...WorkerServiceDefinition.connect,
    requestDeserialize: (buf: Buffer): ConnectRequest => decodeConnectRequest(buf),
  },
} as const;
