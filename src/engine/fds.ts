// Numbered descriptors as Node streams, chosen by what each one is: sockets
// and pipes get non-blocking libuv streams, terminals tty streams, regular
// files and devices fs streams. (process.stdout is synchronous on pipes,
// which would stall the whole tunnel behind a slow reader.)

import { constants as fsConstants, fstatSync, closeSync, readSync, createReadStream, createWriteStream, readdirSync, readFileSync, Stats } from 'fs';
import { Socket, SocketConstructorOpts } from 'net';
import { isatty, ReadStream as TtyReadStream, WriteStream as TtyWriteStream } from 'tty';
import { Readable } from 'stream';
import type { Writable } from 'stream';
import { EXIT_SYSTEM, FatalError, describeSystemError } from '../base/errors';

export type FdKind = 'socket' | 'pipe' | 'tty' | 'file';

export interface FdInfo {
  fd: number;
  kind: FdKind;
  stats: Stats;
}

export function inspectFd(fd: number, role: string): FdInfo {
  let stats: Stats;
  try {
    stats = fstatSync(fd);
  } catch (err) {
    throw new FatalError(EXIT_SYSTEM, `unable to use ${role} (fd ${fd}): ${describeSystemError(err)}`);
  }
  let kind: FdKind;
  if (stats.isSocket()) kind = 'socket';
  else if (stats.isFIFO()) kind = 'pipe';
  else if (isatty(fd)) kind = 'tty';
  else if (stats.isFile() || stats.isCharacterDevice() || stats.isBlockDevice()) kind = 'file';
  // No file type: an anonymous inode (epoll, eventfd) that Node opened for
  // itself where the caller left the descriptor closed.
  else throw new FatalError(EXIT_SYSTEM, `unable to use ${role} (fd ${fd}): not a socket, pipe, terminal or file`);
  return { fd, kind, stats };
}

/**
 * True when this process also holds the other end of the pipe `info` is:
 * then it is no network but a loop back to ourselves. That is what fdr or fdw
 * is when the caller left it closed and Node put one of its own internal
 * pipes there (writing into those aborts Node). Linux's /proc tells which
 * end each descriptor is; elsewhere the check finds nothing.
 */
export function pipeLoopsBack(info: FdInfo): boolean {
  if (info.kind !== 'pipe') return false;
  const accessMode = (fd: number | string): number => {
    const m = /^flags:\s+([0-7]+)$/m.exec(readFileSync(`/proc/self/fdinfo/${fd}`, 'latin1'));
    return m ? parseInt(m[1], 8) & 3 : -1;
  };
  try {
    const mine = accessMode(info.fd);
    for (const name of readdirSync('/proc/self/fd')) {
      if (Number(name) === info.fd) continue;
      let other: Stats;
      try {
        other = fstatSync(Number(name));
      } catch {
        continue; // the directory's own descriptor, already closed
      }
      if (other.isFIFO() && other.dev === info.stats.dev && other.ino === info.stats.ino && accessMode(name) !== mine) return true;
    }
  } catch {
    // no /proc: nothing to tell
  }
  return false;
}

/** O_ACCMODE of a descriptor of ours from /proc (0 read, 1 write, 2 both); undefined without /proc. */
export function accessMode(fd: number): number | undefined {
  try {
    const m = /^flags:\s+([0-7]+)$/m.exec(readFileSync(`/proc/self/fdinfo/${fd}`, 'latin1'));
    return m ? parseInt(m[1], 8) & 3 : undefined;
  } catch {
    return undefined;
  }
}

/**
 * What is wrong with a descriptor the caller must have opened for us to
 * write to (-d), in words, or undefined when nothing is: closed, one of
 * Node's own (an epoll or eventfd, or an internal pipe that took a number
 * the caller left closed: writing there breaks the runtime), or not open
 * for writing. Asked before anything is written.
 */
export function callerWritableFdProblem(fd: number): string | undefined {
  // Left closed by the caller, whether or not the runtime took the number.
  const notOpen = 'not open (the caller left it closed)';
  try {
    if ((fstatSync(fd).mode & fsConstants.S_IFMT) === 0) return notOpen;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EBADF' ? notOpen : describeSystemError(err);
  }
  let info: FdInfo;
  try {
    info = inspectFd(fd, 'fd');
  } catch {
    return 'not a socket, pipe, terminal or file';
  }
  if (pipeLoopsBack(info)) return notOpen;
  if (accessMode(fd) === 0) return 'not open for writing';
  return undefined;
}

/**
 * How much each stream holds before it asks for a pause: the reads of a
 * regular file, and the buffers of the TLS socket and of the local sockets
 * and pipes. 256 KiB: fewer pauses and resumes than Node's 16 KiB (each a
 * readStop/readStart, an epoll_ctl), without the memory of 1 MiB (npm run
 * bench: upload CPU -18 %, peak RSS unchanged).
 */
export const STREAM_BUFFER = 256 * 1024;
const CHUNK = STREAM_BUFFER;

export function openReadable(info: FdInfo): Readable {
  switch (info.kind) {
    case 'socket':
    case 'pipe':
      return new Socket({ fd: info.fd, readable: true, writable: false, allowHalfOpen: true, highWaterMark: STREAM_BUFFER } as SocketConstructorOpts);
    case 'tty':
      return new TtyReadStream(info.fd);
    case 'file':
      // Character and block devices (/dev/zero, a tape) may block: they keep
      // the thread pool's reads.
      if (info.stats.isFile()) return new RegularFileReadable(info.fd);
      return createReadStream('', { fd: info.fd, autoClose: false, highWaterMark: CHUNK });
  }
}

/**
 * A regular file read with read(2) on the main thread, one chunk each time
 * the stream asks. A fs.ReadStream sends every read to the thread pool and
 * waits for its answer (two thread wake-ups per chunk): with stdin a file,
 * twice the context switches of a pipe (perf stat: ~6000 against ~3000 per
 * 256 MiB; doc/benchmark.md, where the larger cost, page faults, is too). A read from a regular file never
 * waits for anyone but the disk, and the stream asks for the next chunk only
 * while less than CHUNK is buffered, so the network side is still served
 * between chunks and backpressure holds. Reads start at the descriptor's
 * current offset (no position given), as C's read() does, and end at the
 * first read that returns 0.
 */
class RegularFileReadable extends Readable {
  constructor(private readonly fd: number) {
    super({ highWaterMark: CHUNK });
  }

  override _read(): void {
    const chunk = Buffer.allocUnsafeSlow(CHUNK);
    let n: number;
    try {
      n = readSync(this.fd, chunk, 0, CHUNK, null);
    } catch (err) {
      this.destroy(err as Error);
      return;
    }
    this.push(n === 0 ? null : n < CHUNK ? chunk.subarray(0, n) : chunk);
  }
}

export function openWritable(info: FdInfo): Writable {
  switch (info.kind) {
    case 'socket':
    case 'pipe': {
      const socket = new Socket({ fd: info.fd, readable: false, writable: true, allowHalfOpen: true, highWaterMark: STREAM_BUFFER } as SocketConstructorOpts);
      // TCP only (a no-op elsewhere): Nagle would hold back handshake flights.
      socket.setNoDelay(true);
      return socket;
    }
    case 'tty':
      return new TtyWriteStream(info.fd);
    case 'file':
      return createWriteStream('', { fd: info.fd, autoClose: false, highWaterMark: CHUNK });
  }
}

/** A bidirectional socket on one descriptor (fdr and fdw are the same number). */
export function openSocket(info: FdInfo): Socket {
  const socket = new Socket({ fd: info.fd, readable: true, writable: true, allowHalfOpen: true });
  // TCP only (setNoDelay is a no-op elsewhere): Nagle would hold back handshake flights.
  socket.setNoDelay(true);
  return socket;
}

function closeQuietly(fd: number): void {
  try {
    closeSync(fd);
  } catch {
    // already closed: nothing left to signal
  }
}

/**
 * Ends a write stream so that its reader sees EOF: sockets are shut down
 * (the descriptor may be shared with a reading side), other descriptors are
 * closed. libuv closes a stream's descriptor on destroy, except 0, 1 and 2,
 * and fs streams here never close theirs, so those are closed by hand.
 */
export function finishWritable(stream: Writable, info: FdInfo, done: (err?: Error | null) => void): void {
  // The callback has the error when a write or the final flush failed
  // (a full disk, a reader gone): the caller must hear of it.
  stream.end((err?: Error | null) => {
    if (info.kind === 'socket') return done(err);
    if (info.kind === 'file') {
      closeQuietly(info.fd);
      return done(err);
    }
    stream.once('close', () => {
      if (info.fd <= 2) closeQuietly(info.fd);
      done(err);
    });
    stream.destroy();
  });
}
