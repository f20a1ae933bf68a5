// A JS duplex between the TLS engine and the network descriptors, used when
// the native socket path cannot serve: fdr and fdw are different objects, or
// -J needs to see the raw EOF apart from a close_notify (over a native socket
// Node reports both the same way).

import { Duplex, Readable, Writable } from 'stream';

export class RawLink extends Duplex {
  /** set when fdr reached EOF, before the TLS engine is told */
  rawEof = false;
  /** the read error that ended fdr, if it did not end with an EOF */
  readError: Error | undefined;
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
    const onData = (chunk: Buffer): void => {
      if (!this.push(chunk)) source.pause();
    };
    source.on('data', onData);
    source.on('end', () => {
      this.rawEof = true;
      this.push(null);
    });
    // Registered before the TLS engine's own listener, so this runs first.
    this.on('end', onRawEof);
    // A read error (a reset) must not drop what was read before it and still
    // waits here or inside the TLS engine: the engine is given an EOF, so it
    // delivers all of that, and the tunnel reports readError at that EOF.
    source.on('error', (err) => {
      if (this.readError || this.rawEof) return;
      this.readError = err;
      // What the source read from the kernel before the error and still
      // holds (it was paused by backpressure) goes first. An errored stream
      // emits no more 'data', but read() still returns what it buffered.
      source.off('data', onData);
      for (let chunk: Buffer | null; (chunk = source.read()) !== null; ) this.push(chunk);
      this.push(null);
    });
    // One socket both ways (-J): its errors are the source's, handled above.
    if ((sink as unknown) !== source) sink.on('error', (err) => this.destroy(err));
  }

  override _read(): void {
    this.source.resume();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    // The socket died of a read error: that error is reported at the EOF
    // given to the engine; what the engine still writes goes nowhere.
    if (this.sink.destroyed && this.readError) return callback();
    this.sink.write(chunk, callback);
  }

  override _writev(chunks: { chunk: Buffer }[], callback: (error?: Error | null) => void): void {
    if (this.sink.destroyed && this.readError) return callback();
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
