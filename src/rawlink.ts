// A JS duplex between the TLS engine and the network descriptors, used when
// the native socket path cannot serve: fdr and fdw are different objects, or
// -J needs to see the raw EOF apart from a close_notify (over a native socket
// Node reports both the same way).

import { Duplex, Readable, Writable } from 'stream';

export class RawLink extends Duplex {
  /** set when fdr reached EOF, before the TLS engine is told */
  rawEof = false;
  private readonly source: Readable;
  private readonly sink: Writable;
  private readonly endSink: (done: () => void) => void;

  /**
   * @param onRawEof called once fdr reaches EOF, before the TLS engine
   *   processes that EOF: whatever TLS decrypted so far has already been seen.
   * @param endSink shuts down the network write side (shutdown or close).
   */
  constructor(source: Readable, sink: Writable, endSink: (done: () => void) => void, onRawEof: () => void) {
    super({ allowHalfOpen: true, readableHighWaterMark: 64 * 1024, writableHighWaterMark: 64 * 1024 });
    this.source = source;
    this.sink = sink;
    this.endSink = endSink;
    source.on('data', (chunk: Buffer) => {
      if (!this.push(chunk)) source.pause();
    });
    source.on('end', () => {
      this.rawEof = true;
      this.push(null);
    });
    // Registered before the TLS engine's own listener, so this runs first.
    this.on('end', onRawEof);
    source.on('error', (err) => this.destroy(err));
    sink.on('error', (err) => this.destroy(err));
  }

  override _read(): void {
    this.source.resume();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.sink.write(chunk, callback);
  }

  override _writev(chunks: { chunk: Buffer }[], callback: (error?: Error | null) => void): void {
    for (let i = 0; i < chunks.length - 1; i++) this.sink.write(chunks[i].chunk);
    this.sink.write(chunks[chunks.length - 1].chunk, callback);
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.endSink(() => callback());
  }

  /** Shuts down the network write side without going through TLS (no close_notify). */
  endRaw(done: () => void): void {
    this.endSink(done);
  }

  override _destroy(err: Error | null, callback: (error?: Error | null) => void): void {
    this.source.destroy();
    this.sink.destroy();
    callback(err);
  }
}
