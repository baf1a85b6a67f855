import { SubmitJobRequest, type FetchItem, type FetchJobSpec, type JobSpec } from '@spindle/sdk';

/**
 * Just enough of the protobuf wire format for the cost of a big job's SubmitJobRequest,
 * which grows with its items: on a 5,000-URL fetch the SDK's encoder took 5-6 ms on the
 * main thread and made V8 optimise its writer on background threads for 15 ms more; the
 * items are written here in one pass into one buffer instead. (The answers' echo of the
 * spec is left out by the coordinator itself when asked for JobView BASIC.)
 * Field numbers are the API's (proto/spindle/v1); wire.test.ts checks the results
 * against the SDK's own encoding.
 */

/** `spec` in SubmitJobRequest. */
const REQUEST_SPEC_FIELD = 2;
/** `fetch` and `fetch_then_stats` in JobSpec; `fetch` in FetchThenStatsJobSpec. */
const SPEC_FETCH_FIELD = 1;
const SPEC_FETCH_THEN_STATS_FIELD = 3;
const FETCH_THEN_STATS_FETCH_FIELD = 1;
/** `items` in FetchJobSpec, and the fields of FetchItem. */
const FETCH_ITEMS_FIELD = 1;
const ITEM_URL_FIELD = 1;
const ITEM_FILE_NAME_FIELD = 2;
const ITEM_SHA256_FIELD = 3;
const ITEM_EXPECTED_SIZE_FIELD = 4;

const WIRE_VARINT = 0;
const WIRE_FIXED64 = 1;
const WIRE_LEN = 2;
const WIRE_FIXED32 = 5;

/** A varint at `pos` and the position after it; throws past the end or beyond 2^53. */
function readVarint(buf: Uint8Array, pos: number): [value: number, next: number] {
  let value = 0;
  for (let shift = 0; shift < 53; shift += 7) {
    const byte = buf[pos++];
    if (byte === undefined) throw new RangeError('truncated varint');
    value += (byte & 0x7f) * 2 ** shift;
    if (byte < 0x80) return [value, pos];
  }
  throw new RangeError('varint too long');
}

function writeVarint(value: number): Uint8Array {
  const bytes: number[] = [];
  while (value >= 0x80) {
    bytes.push((value % 0x80) | 0x80);
    value = Math.floor(value / 0x80);
  }
  bytes.push(value);
  return Uint8Array.from(bytes);
}

/** One field of a message: its number, and where its tag, its payload (LEN only) and the field end. */
interface FieldSpan {
  field: number;
  start: number;
  payloadStart: number;
  end: number;
  wireType: number;
}

/** The top-level fields of `message`, in order; throws on malformed input or groups. */
function fieldsOf(message: Uint8Array): FieldSpan[] {
  const spans: FieldSpan[] = [];
  let pos = 0;
  while (pos < message.length) {
    const start = pos;
    const [tag, afterTag] = readVarint(message, pos);
    const wireType = tag % 8;
    let payloadStart = afterTag;
    let end: number;
    if (wireType === WIRE_VARINT) end = readVarint(message, afterTag)[1];
    else if (wireType === WIRE_FIXED64) end = afterTag + 8;
    else if (wireType === WIRE_FIXED32) end = afterTag + 4;
    else if (wireType === WIRE_LEN) {
      const [length, afterLength] = readVarint(message, afterTag);
      payloadStart = afterLength;
      end = afterLength + length;
    } else throw new RangeError(`unsupported wire type ${wireType}`);
    if (end > message.length) throw new RangeError('field past the end of the message');
    spans.push({ field: Math.floor(tag / 8), start, payloadStart, end, wireType });
    pos = end;
  }
  return spans;
}

/**
 * `message` with every occurrence of `field` (a LEN field) replaced by
 * `replace(payload)`, or dropped when that returns undefined.
 */
function rewriteField(
  message: Uint8Array,
  field: number,
  replace: (payload: Uint8Array) => Uint8Array | undefined,
): Buffer {
  const parts: Uint8Array[] = [];
  for (const span of fieldsOf(message)) {
    if (span.field !== field || span.wireType !== WIRE_LEN) {
      parts.push(message.subarray(span.start, span.end));
      continue;
    }
    const payload = replace(message.subarray(span.payloadStart, span.end));
    if (payload === undefined) continue;
    parts.push(writeVarint(field * 8 + WIRE_LEN), writeVarint(payload.length), payload);
  }
  return Buffer.concat(parts);
}

/** Bytes of `value` as a varint. */
function varintSize(value: number): number {
  let size = 1;
  while (value >= 0x80) {
    value = Math.floor(value / 0x80);
    size++;
  }
  return size;
}

/** Writes `value` as a varint at `pos`; returns the position after it. */
function putVarint(buf: Buffer, pos: number, value: number): number {
  while (value >= 0x80) {
    buf[pos++] = (value % 0x80) | 0x80;
    value = Math.floor(value / 0x80);
  }
  buf[pos++] = value;
  return pos;
}

/** Bytes of a string field (tag, length, UTF-8), 0 for '' which the SDK leaves out. */
function stringFieldSize(text: string): number {
  if (text === '') return 0;
  const n = Buffer.byteLength(text);
  return 1 + varintSize(n) + n;
}

/** The repeated `items` field of a FetchJobSpec, as the SDK would write it. */
function encodeFetchItems(items: readonly FetchItem[]): Buffer {
  // Two passes: the size of every item, then the bytes into one buffer.
  const sizes: number[] = [];
  let total = 0;
  for (const item of items) {
    const size =
      stringFieldSize(item.url) +
      stringFieldSize(item.fileName) +
      stringFieldSize(item.sha256) +
      (item.expectedSize === 0 ? 0 : 1 + varintSize(item.expectedSize));
    sizes.push(size);
    total += 1 + varintSize(size) + size;
  }
  const buf = Buffer.allocUnsafe(total);
  let pos = 0;
  const putString = (field: number, text: string): void => {
    if (text === '') return;
    buf[pos++] = field * 8 + WIRE_LEN;
    pos = putVarint(buf, pos, Buffer.byteLength(text));
    pos += buf.write(text, pos);
  };
  items.forEach((item, i) => {
    buf[pos++] = FETCH_ITEMS_FIELD * 8 + WIRE_LEN;
    pos = putVarint(buf, pos, sizes[i] ?? 0);
    putString(ITEM_URL_FIELD, item.url);
    putString(ITEM_FILE_NAME_FIELD, item.fileName);
    putString(ITEM_SHA256_FIELD, item.sha256);
    if (item.expectedSize !== 0) {
      buf[pos++] = ITEM_EXPECTED_SIZE_FIELD * 8 + WIRE_VARINT;
      pos = putVarint(buf, pos, item.expectedSize);
    }
  });
  return buf;
}

/**
 * A SubmitJobRequest serialized, byte for byte as `SubmitJobRequest.encode` writes it.
 * A fetch job's items are written here; the rest of the request by the SDK.
 */
export function encodeSubmitJobRequest(request: SubmitJobRequest): Buffer {
  const spec = request.spec;
  const kind = spec?.kind;
  const fetch = kind?.$case === 'fetch' ? kind.value : kind?.$case === 'fetchThenStats' ? kind.value.fetch : undefined;
  if (spec === undefined || kind === undefined || fetch === undefined || fetch.items.length === 0) {
    return Buffer.from(SubmitJobRequest.encode(request).finish());
  }
  // The SDK writes the FetchJobSpec, even an empty one, and its items first (field 1):
  // the items go back in front of what it wrote for an empty list.
  const noItems: FetchJobSpec = { ...fetch, items: [] };
  const specWithoutItems: JobSpec = {
    ...spec,
    kind:
      kind.$case === 'fetch'
        ? { $case: 'fetch', value: noItems }
        : { $case: 'fetchThenStats', value: { ...kind.value, fetch: noItems } },
  };
  const rest = SubmitJobRequest.encode({ ...request, spec: specWithoutItems }).finish();
  const items = encodeFetchItems(fetch.items);
  const addItems = (fetchSpec: Uint8Array): Uint8Array => Buffer.concat([items, fetchSpec]);
  return rewriteField(rest, REQUEST_SPEC_FIELD, (specBytes) =>
    kind.$case === 'fetch'
      ? rewriteField(specBytes, SPEC_FETCH_FIELD, addItems)
      : rewriteField(specBytes, SPEC_FETCH_THEN_STATS_FIELD, (chained) =>
          rewriteField(chained, FETCH_THEN_STATS_FETCH_FIELD, addItems),
        ),
  );
}
