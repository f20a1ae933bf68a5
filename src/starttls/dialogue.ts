// The cleartext exchange before STARTTLS, bounded: a hostile server's
// endless line or endless reply must not grow our memory, and bytes it
// sends after its "go ahead" must not reach the TLS side (they would be
// read as if they came under TLS: the STARTTLS injection of CVE-2011-0411).

import type { Socket } from 'net';
import { EXIT_SYSTEM, EXIT_TLS, FatalError, describeSystemError } from '../errors';

/** Longest line accepted (RFC 5321 allows 512 octets; IMAP capability lines run longer). */
export const MAX_LINE = 8192;
/** Most bytes the whole prelude may take from the server. */
export const MAX_PRELUDE = 64 * 1024;

export class Dialogue {
  private buffer = Buffer.alloc(0);
  private total = 0;
  private ended = false;
  private failure: Error | undefined;
  private wake: (() => void) | undefined;
  private readonly onData = (chunk: Buffer): void => {
    this.total += chunk.length;
    this.buffer = Buffer.concat([this.buffer, chunk]);
    if (this.total > MAX_PRELUDE) {
      this.failure = refused(`server sent more than ${MAX_PRELUDE} bytes before TLS`);
      this.socket.pause();
    }
    this.wake?.();
  };
  private readonly onEnd = (): void => {
    this.ended = true;
    this.wake?.();
  };
  private readonly onError = (err: Error): void => {
    this.failure = new FatalError(EXIT_SYSTEM, `unable to read from the server: ${describeSystemError(err)}`);
    this.wake?.();
  };

  constructor(
    private readonly socket: Socket,
    readonly proto: string,
    private readonly log: (line: string) => void,
  ) {
    socket.on('data', this.onData);
    socket.on('end', this.onEnd);
    socket.on('error', this.onError);
  }

  private async more(): Promise<void> {
    if (this.failure) throw this.failure;
    if (this.ended) throw refused('server closed the connection before TLS');
    await new Promise<void>((resolve) => (this.wake = resolve));
    this.wake = undefined;
    if (this.failure) throw this.failure;
  }

  /** One line without its CRLF (or LF). */
  async line(): Promise<string> {
    for (;;) {
      const nl = this.buffer.indexOf(0x0a);
      if (nl >= 0) {
        if (nl > MAX_LINE) throw refused(`server sent a line longer than ${MAX_LINE} bytes before TLS`);
        const text = this.buffer.subarray(0, nl).toString('latin1').replace(/\r$/, '');
        this.buffer = this.buffer.subarray(nl + 1);
        this.log(`S: ${text}`);
        return text;
      }
      if (this.buffer.length > MAX_LINE) throw refused(`server sent a line longer than ${MAX_LINE} bytes before TLS`);
      await this.more();
    }
  }

  /** Exactly `n` bytes (binary protocols). */
  async bytes(n: number): Promise<Buffer> {
    while (this.buffer.length < n) await this.more();
    const data = this.buffer.subarray(0, n);
    this.buffer = this.buffer.subarray(n);
    return data;
  }

  /** Everything up to and including `marker`, as text. */
  async until(marker: string): Promise<string> {
    for (;;) {
      const at = this.buffer.indexOf(marker, 0, 'latin1');
      if (at >= 0) {
        const text = this.buffer.subarray(0, at + marker.length).toString('latin1');
        this.buffer = this.buffer.subarray(at + marker.length);
        this.log(`S: ${text}`);
        return text;
      }
      await this.more();
    }
  }

  send(text: string | Buffer, shown = typeof text === 'string' ? text.replace(/\r\n$/, '') : `(${text.length} bytes)`): void {
    this.log(`C: ${shown}`);
    this.socket.write(text);
  }

  /** Ends the dialogue with `err` at the next read (or the current one). */
  fail(err: Error): void {
    this.failure ??= err;
    this.wake?.();
  }

  /** Stops reading: the socket is paused, for TLS or to be closed. */
  release(): void {
    this.socket.removeListener('data', this.onData);
    this.socket.removeListener('end', this.onEnd);
    this.socket.removeListener('error', this.onError);
    this.socket.pause();
  }

  /**
   * After the go-ahead: nothing may be left unread, since the server must
   * wait for our ClientHello.
   */
  checkClean(): void {
    if (this.failure) throw this.failure;
    if (this.buffer.length > 0) throw refused('server sent data after its STARTTLS answer (possible injection); not starting TLS');
    if (this.ended) throw refused('server closed the connection before TLS');
  }
}

/** A refusal or a broken prelude: exit 98, with the server's words. */
export function refused(message: string): FatalError {
  return new FatalError(EXIT_TLS, `${message}`);
}
