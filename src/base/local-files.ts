// Reading the files the environment names (CAFILE, CADIR entries, CERTFILE,
// KEYFILE) without letting them stall or flood the process: only regular
// files are read, a FIFO or a device is refused before it is read (and its
// open cannot block), and every read stops at a hard cap, whatever stat says.

import { closeSync, constants, fstatSync, openSync, readSync, Stats, statSync } from 'fs';
import { EXIT_CONFIG, EXIT_SYSTEM, FatalError, describeSystemError } from './errors';

/** No certificate, key or anchor bundle we accept is larger than this. */
export const MAX_FILE_BYTES = 16 * 1024 * 1024;

function kindOf(stats: Stats): string {
  if (stats.isDirectory()) return 'a directory';
  if (stats.isFIFO()) return 'a FIFO';
  if (stats.isCharacterDevice() || stats.isBlockDevice()) return 'a device';
  if (stats.isSocket()) return 'a socket';
  return 'not a regular file';
}

function notRegular(path: string, what: string, stats: Stats): FatalError {
  return new FatalError(EXIT_SYSTEM, `unable to read ${what} ${path}: ${kindOf(stats)}, not a regular file`);
}

/**
 * The whole of a regular file, at most `cap` bytes. Opened non-blocking (a
 * FIFO's open would otherwise wait for a writer) and without becoming a
 * controlling terminal, then refused by fstat unless it is a regular file
 * (a FIFO, /dev/zero, /dev/urandom, a directory), then read until EOF or
 * one byte past the cap, so a file that grows, or lies about its size,
 * cannot take more memory than the cap.
 */
export function readRegularFile(path: string, what: string, cap = MAX_FILE_BYTES): Buffer {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY);
  } catch (err) {
    throw new FatalError(EXIT_SYSTEM, `unable to read ${what} ${path}: ${describeSystemError(err)}`);
  }
  try {
    const stats = fstatSync(fd);
    if (!stats.isFile()) throw notRegular(path, what, stats);
    // The size is a hint for the first read, not a bound: reading goes on to EOF or past the cap.
    let buffer = Buffer.allocUnsafe(Math.min(stats.size, cap) + 1);
    let total = 0;
    for (;;) {
      if (total === buffer.length) {
        if (total > cap) throw new FatalError(EXIT_CONFIG, `${what} ${path} is larger than ${cap} bytes`);
        const bigger = Buffer.allocUnsafe(Math.min(buffer.length * 2, cap + 1));
        buffer.copy(bigger, 0, 0, total);
        buffer = bigger;
      }
      const wanted = buffer.length - total;
      const n = readSync(fd, buffer, total, wanted, null);
      total += n;
      // A regular file reads short only at its end.
      if (n < wanted) break;
    }
    return buffer.subarray(0, total);
  } catch (err) {
    if (err instanceof FatalError) throw err;
    throw new FatalError(EXIT_SYSTEM, `unable to read ${what} ${path}: ${describeSystemError(err)}`);
  } finally {
    closeSync(fd);
  }
}

/** stat() of a name that must be a directory (CADIR). */
export function requireDirectory(path: string, what: string): void {
  let stats: Stats;
  try {
    stats = statSync(path);
  } catch (err) {
    throw new FatalError(EXIT_SYSTEM, `unable to read ${what} ${path}: ${describeSystemError(err)}`);
  }
  if (!stats.isDirectory()) throw new FatalError(EXIT_SYSTEM, `unable to read ${what} ${path}: Not a directory`);
}
