// The transport TLS runs over: a JS duplex between the TLS engine and the
// network's two ends (one socket, or two descriptors). One path for every
// case, because it is the only place that sees the network's own end apart
// from TLS's: a close_notify, a bare FIN and a reset each reach the session
// as what they are (over a socket handed straight to TLS, Node reports all
// three the same way). Its cost is one JS hop per 64 KiB read, within noise
// of the native path in `npm run bench`.

import { readSync } from 'fs';
import { Duplex, Readable, Writable } from 'stream';
import type { Socket } from 'net';
import { divertWriteErrors, socketFd } from '../base/node-internals';
import { AlertLink, parseServerHello, ServerHello } from './alert';

// Enough of the server's first bytes to hold its ServerHello's random and
// cipher suite, even cut into small records (src/engine/alert.ts).
const HELLO_BYTES = 512;

/** The network side as callers give it: one socket, or two separate ends. */
export type NetworkSide =
  | { kind: 'socket'; socket: Socket }
  | {
      kind: 'split';
      readable: Readable;
      writable: Writable;
      /** shuts down the write side (shutdown for a socket, close for a pipe) */
      endWritable: (done: () => void) => void;
      /** a descriptor of the read side, asked how it ended (see probeEnd) */
      readFd?: number;
    };

/** How the read side ended, as the kernel tells it. */
export type RawEnd = { how: 'fin' } | { how: 'reset'; error: Error };

/**
 * After a stream reported EOF, one read on its descriptor tells a FIN from a
 * reset. libuv, after a partial read, takes the POLLHUP of a reset for an
 * EOF without reading the ECONNRESET still pending on the socket (a plain
 * net.Socket reading from a server that writes 4 MiB and then resets ends
 * with 'end', not 'error'); that read returns it. After a FIN (or a pipe's
 * or a file's end) it returns 0. Called from the 'end' listener, before Node
 * may close the descriptor.
 */
export function probeEnd(fd: number | undefined): RawEnd {
  if (fd === undefined) return { how: 'fin' };
  try {
    const n = readSync(fd, Buffer.alloc(1), 0, 1, null);
    if (n === 0) return { how: 'fin' };
    // Data after an end of stream: not a connection that ended cleanly.
    return { how: 'reset', error: Object.assign(new Error('data after the end of the stream'), { code: 'EPROTO' }) };
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    // EAGAIN: nothing pending and no error: the end was an end. EBADF: the
    // descriptor is gone (closed by its owner after the end): nothing to learn.
    if (code === 'EAGAIN' || code === 'EWOULDBLOCK' || code === 'EBADF') return { how: 'fin' };
    return { how: 'reset', error: err as Error };
  }
}

export interface LinkEvents {
  /** a write to the network failed: later writes are dropped, reading goes on */
  onWriteError(err: Error): void;
}

export class NetworkLink extends Duplex implements AlertLink {
  /** set when the network's read side ended, before TLS is handed that end */
  rawEnd: RawEnd | undefined;
  /** true once TLS has consumed everything read from the network, end included */
  drained = false;
  watchWrites: ((chunk: Buffer) => void) | undefined;
  holdWriteSide = false;
  private writeBroken = false;
  private firstBytes: Buffer[] = [];
  private firstLength = 0;
  private readonly source: Readable;
  private readonly sink: Writable;
  private readonly endSink: (done: () => void) => void;
  private readonly events: LinkEvents;

  constructor(network: NetworkSide, events: LinkEvents) {
    // No autoDestroy: once both of its directions are done the link would
    // close, and Node's JS stream wrapper would destroy the TLS socket with
    // it, before TLS has handed on what it still holds (Node 26 does, when
    // the output is slow). The session destroys it when it is over.
    super({ allowHalfOpen: true, autoDestroy: false, readableHighWaterMark: 64 * 1024, writableHighWaterMark: 64 * 1024 });
    this.events = events;
    let readFd: number | undefined;
    if (network.kind === 'socket') {
      const socket = network.socket;
      this.source = socket;
      this.sink = socket;
      this.endSink = (done) => socket.end(done);
      readFd = socketFd(socket);
      divertWriteErrors(socket, (err) => this.writeFailed(err));
    } else {
      this.source = network.readable;
      this.sink = network.writable;
      this.endSink = network.endWritable;
      readFd = network.readFd;
      this.sink.on('error', (err) => this.writeFailed(err));
    }
    // Registered before TLS's own listener: runs when TLS has been handed
    // every byte read, just before it is handed the end.
    this.on('end', () => (this.drained = true));

    const onData = (chunk: Buffer): void => {
      if (this.firstLength < HELLO_BYTES) {
        this.firstBytes.push(chunk.subarray(0, HELLO_BYTES - this.firstLength));
        this.firstLength += Math.min(chunk.length, HELLO_BYTES - this.firstLength);
      }
      if (!this.push(chunk)) this.source.pause();
    };
    this.source.on('data', onData);
    this.source.on('end', () => {
      if (this.rawEnd) return;
      this.rawEnd = probeEnd(readFd);
      this.push(null);
    });
    // A read error (a reset libuv did read) must not drop what was read
    // before it: TLS is handed an end, so it delivers all of that, and the
    // session learns of the reset from rawEnd.
    this.source.on('error', (err) => {
      if (this.rawEnd) return;
      this.rawEnd = { how: 'reset', error: err };
      // What the source read before the error and still holds goes first: an
      // errored stream emits no more 'data', but read() still returns it.
      this.source.off('data', onData);
      for (let chunk: Buffer | null; (chunk = this.source.read()) !== null; ) this.push(chunk);
      this.push(null);
    });
  }

  private writeFailed(err: Error): void {
    if (this.writeBroken) return;
    this.writeBroken = true;
    this.events.onWriteError(err);
  }

  override _read(): void {
    this.source.resume();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.watchWrites?.(chunk);
    // After a failed write the rest goes nowhere; TLS carries on, so the
    // read side can still be read to its end.
    if (this.writeBroken || this.sink.destroyed) return callback();
    this.sink.write(chunk, (err) => {
      if (err) this.writeFailed(err);
      callback();
    });
  }

  override _writev(chunks: { chunk: Buffer }[], callback: (error?: Error | null) => void): void {
    for (const { chunk } of chunks) this.watchWrites?.(chunk);
    if (this.writeBroken || this.sink.destroyed) return callback();
    for (let i = 0; i < chunks.length - 1; i++) this.sink.write(chunks[i].chunk);
    this.sink.write(chunks[chunks.length - 1].chunk, (err) => {
      if (err) this.writeFailed(err);
      callback();
    });
  }

  override _final(callback: (error?: Error | null) => void): void {
    if (this.writeBroken || this.sink.destroyed) return callback();
    this.endSink(() => callback());
  }

  /** The server's ServerHello, as far as an alert needs it (src/engine/alert.ts). */
  serverHello(): ServerHello | undefined {
    return parseServerHello(Buffer.concat(this.firstBytes));
  }

  /**
   * Writes a record TLS did not make (an alert, src/engine/alert.ts) after what TLS
   * wrote, if the network can still be written to. A socket or a pipe takes
   * a write this small at once, before the link's write side is destroyed.
   */
  sendRaw(record: Buffer): void {
    if (this.writeBroken || this.sink.destroyed || this.sink.writableEnded) return;
    this.sink.write(record);
  }

  /** Shuts down the network write side without going through TLS (no close_notify). */
  endRaw(done: () => void): void {
    if (this.writeBroken || this.sink.destroyed) return done();
    this.endSink(done);
  }

  override _destroy(err: Error | null, callback: (error?: Error | null) => void): void {
    this.source.destroy();
    // Node destroys the link as it refuses a certificate, and says why only
    // on the next tick: the alert that answers it (src/engine/alert.ts) still has
    // to go out then, so the write side lives until the next turn.
    if (this.holdWriteSide) setImmediate(() => this.sink.destroy());
    else this.sink.destroy();
    callback(err);
  }
}
