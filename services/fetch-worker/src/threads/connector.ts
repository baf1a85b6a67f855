import type { Socket } from 'node:net';
import { buildConnector } from 'undici';

/**
 * Largest read from a plain-HTTP socket. Node reads a socket 64 KiB at a time
 * into a fresh buffer per read; a fetch thread streaming large bodies then
 * spends as much time on the reads as on hashing. Reading up to 1 MiB into
 * one buffer per thread and copying out what each read got, measured on W2
 * (4 × 256 MiB from nginx on 127.0.0.1, disk): fetch-thread CPU 141–155 →
 * 125–129 cs per run (system time per thread ~34 → ~23 cs), wall 906–940 →
 * 853–902 ms; W1 and W3 (bodies of 64 KiB and 1 B) unchanged. Reads of
 * 256 KiB gained half as much (135–140 cs).
 */
export const READ_BYTES = 1024 * 1024;

/**
 * undici's connector for a fetch thread's agents: TLS connections as undici
 * makes them; plain-HTTP sockets read into `readBuffer` (the thread's, shared
 * by all its sockets) with `onread`, each read copied into a buffer of its own
 * size and pushed to the socket's readable side, where undici reads it as it
 * would Node's own chunks (backpressure included: a full readable side stops
 * reading).
 *
 * Sharing one buffer is safe because a thread runs one read at a time: libuv
 * reads a socket and calls its onread callback, which copies the bytes out,
 * before it reads the next. TLS sockets keep Node's reads: their data comes
 * out of the TLS layer in records of at most 16 KiB anyway.
 */
export function fetchConnector(
  options: buildConnector.BuildOptions,
  readBuffer: Buffer = Buffer.allocUnsafe(READ_BYTES),
): buildConnector.connector {
  const tls = buildConnector(options);
  return (connectOptions, callback) => {
    if (connectOptions.protocol !== 'http:') {
      tls(connectOptions, callback);
      return;
    }
    let socket: Socket | null = null;
    const onread = {
      buffer: readBuffer,
      callback: (bytes: number, buffer: Uint8Array): boolean => {
        // Node starts reading after 'connect', whose handler hands us the socket.
        if (socket === null) throw new Error('socket data arrived before the connection was reported');
        const chunk = Buffer.allocUnsafe(bytes);
        chunk.set(buffer.subarray(0, bytes));
        return socket.push(chunk);
      },
    };
    // One connector per connection: undici passes its build options to
    // net.connect, and each socket needs its own callback. The readable side
    // holds one full read before it stops reading (undici's default is 64 KiB;
    // a socket option Node takes that @types/node does not declare).
    const plain = { ...options, highWaterMark: READ_BYTES, onread };
    buildConnector(plain)(connectOptions, (...result) => {
      socket = result[1];
      callback(...result);
    });
  };
}
