// Every use of something Node does not document, in one place. Each entry
// says why there is no public way, which Node versions it was checked on,
// and test/node-internals.test.ts fails loudly when a Node release changes
// it. Checked on Node 20.20 (OpenSSL 3.0) and 26.12 (OpenSSL 3.5).

import type { Socket } from 'net';
import type { Duplex, Readable } from 'stream';

/**
 * The descriptor under a net.Socket (`_handle.fd`). Needed to ask the kernel
 * how the connection ended (see src/transport.ts probeEnd): after a reset,
 * libuv may report an EOF without reading the ECONNRESET that is still
 * pending on the socket. Node has no public accessor. Used only for sockets
 * the library is handed; the programs know their descriptor numbers.
 */
export function socketFd(socket: Socket): number | undefined {
  const fd = (socket as unknown as { _handle?: { fd?: unknown } })._handle?.fd;
  return typeof fd === 'number' && fd >= 0 ? fd : undefined;
}

/**
 * Node destroys a socket whose write fails, and with it the read side and
 * whatever the kernel still holds for it: the answer a server sent before
 * resetting the connection. When one net.Socket carries both directions
 * (a socket handed to the library, s6-tlsclient's own connection), write
 * errors are handed to `onError` instead and the write completes, so the
 * read side can be read to its end; later writes fail the same way. It wraps
 * net.Socket's `_writeGeneric`. (Descriptor pairs avoid it: fdr and fdw get
 * one stream each, and only the writing one dies.) Returns false where the
 * method is missing: errors then take Node's usual path, which the tunnel
 * also handles, losing only what the kernel held.
 */
export function divertWriteErrors(socket: Duplex, onError: (err: Error) => void): boolean {
  type WriteGeneric = (writev: boolean, data: unknown, encoding: string, cb: (err?: Error | null) => void) => unknown;
  const target = socket as unknown as { _writeGeneric?: WriteGeneric };
  const original = target._writeGeneric;
  if (typeof original !== 'function') return false;
  target._writeGeneric = function (this: unknown, writev, data, encoding, cb) {
    return original.call(this, writev, data, encoding, (err?: Error | null) => {
      if (err && (err as NodeJS.ErrnoException).syscall === 'write') {
        onError(err);
        return cb();
      }
      cb(err);
    });
  };
  return true;
}

/**
 * Calls `onEof` the moment a stream is handed its end of data, before any
 * buffered data is read and 'end' emitted. The tunnel needs that moment on the
 * TLS socket: a close_notify makes TLS push its EOF before the raw
 * transport's own end is consumed, and nothing else tells a close_notify
 * from a bare EOF (Node 20 has no public "ended" flag; `readableEnded` only
 * says 'end' was emitted, which backpressure may delay). Node's stream
 * plumbing ends a socket by calling its `push(null)`; the hook wraps the
 * instance's push.
 */
export function onEndOfData(stream: Readable, onEof: () => void): void {
  const push = stream.push;
  stream.push = function (this: Readable, chunk: unknown, encoding?: BufferEncoding): boolean {
    if (chunk === null) onEof();
    return push.call(this, chunk, encoding);
  };
}
