// The cleartext exchange before STARTTLS, bounded: a hostile server's
// endless line or endless reply must not grow our memory, and bytes it
// sends after its "go ahead" must not reach the TLS side (they would be
// read as if they came under TLS: the STARTTLS injection of CVE-2011-0411).

import type { Socket } from 'net';
import { EXIT_SYSTEM, EXIT_TLS, FatalError, describeSystemError } from '../../base/errors';

/** Longest line accepted (RFC 5321 allows 512 octets; IMAP capability lines run longer). */
export const MAX_LINE = 8192;
/** Most bytes the whole prelude may take from the server. */
export const MAX_PRELUDE = 64 * 1024;
/** Most characters of the server's words put into a message or an `S:` line. */
export const MAX_QUOTE = 300;

/**
 * The server's words made safe for a terminal and a log: UTF-8 (invalid
 * bytes replaced), every control character (C0, DEL, C1) written as \xNN
 * or \r, \n, \t, and at most `limit` characters.
 */
export function quote(words: string | Buffer, limit = MAX_QUOTE): string {
  const text = typeof words === 'string' ? words : words.toString('utf8');
  const bounded = [...text];
  const cut = bounded.length > limit;
  const escaped = bounded.slice(0, limit).map((ch) => {
    const c = ch.codePointAt(0)!;
    if (ch === '\r') return '\\r';
    if (ch === '\n') return '\\n';
    if (ch === '\t') return '\\t';
    if (c < 0x20 || (c >= 0x7f && c <= 0x9f)) return `\\x${c.toString(16).padStart(2, '0')}`;
    return ch;
  });
  return escaped.join('') + (cut ? `... (${bounded.length - limit} more characters)` : '');
}

export class Dialogue {
  private buffer = Buffer.alloc(0);
  private total = 0;
  private ended = false;
  private failure: Error | undefined;
  private wake: (() => void) | undefined;
  /** the server's last complete message, for the words of a refusal */
  private lastWords: Buffer | undefined;
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
    if (this.ended) throw this.closed();
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
        const raw = this.buffer.subarray(0, nl);
        this.buffer = this.buffer.subarray(nl + 1);
        return this.heard(raw).replace(/\r$/, '');
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

  /**
   * A binary message taken apart by the caller: kept as the server's last
   * words and shown as one `S:` line in the caller's words.
   */
  said(shown: string): void {
    this.lastWords = Buffer.from(shown);
    this.log(`S: ${quote(shown, MAX_LINE)}`);
  }

  /** Everything up to and including the first of `markers` found, as text. */
  async until(...markers: string[]): Promise<string> {
    for (;;) {
      let end = -1;
      for (const marker of markers) {
        const at = this.buffer.indexOf(marker, 0, 'latin1');
        if (at >= 0 && (end < 0 || at + marker.length < end)) end = at + marker.length;
      }
      if (end >= 0) {
        const raw = this.buffer.subarray(0, end);
        this.buffer = this.buffer.subarray(end);
        return this.heard(raw);
      }
      await this.more();
    }
  }

  /** One message taken from the server: logged, remembered, returned as text. */
  private heard(raw: Buffer): string {
    this.lastWords = raw;
    const text = raw.toString('utf8');
    this.log(`S: ${quote(text.replace(/\r?\n?$/, ''), MAX_LINE)}`);
    return text;
  }

  /**
   * The server ended before TLS: what it sent and we had not read yet is
   * its last message (shown under -v 2 like any other); quoted in the error.
   */
  private closed(): FatalError {
    if (this.buffer.length > 0) {
      this.heard(this.buffer);
      this.buffer = Buffer.alloc(0);
    }
    const words = this.lastWords && this.lastWords.toString('utf8').trim();
    return refused(`${this.proto} server closed the connection before TLS` + (words ? `; it said last: ${quote(words)}` : ''));
  }

  /** A refusal quoting the server's words. */
  refusal(message: string, words: string): FatalError {
    return refused(`${message}: ${quote(words.trim())}`);
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
    if (this.ended) throw this.closed();
  }
}

/** A refusal or a broken prelude: exit 98, with the server's words. */
export function refused(message: string): FatalError {
  return new FatalError(EXIT_TLS, `${message}`);
}
