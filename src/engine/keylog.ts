// SSLKEYLOGFILE: NSS key-log lines for debugging with Wireshark. The lines
// decrypt the session, so the file must be the user's own and private:
// opened after the privilege drop (as the user the program runs as), never
// through a symbolic link, created 0600 if missing, and refused if it exists
// and is not a regular file owned by that user with mode 0600 or stricter.
// The open never blocks (a FIFO is refused, not waited on). Appended to.

import { closeSync, constants, fstatSync, openSync, writeSync } from 'fs';
import { EXIT_SYSTEM, FatalError, describeSystemError } from '../base/errors';

const APPEND = constants.O_WRONLY | constants.O_APPEND | constants.O_NOFOLLOW | constants.O_NONBLOCK | constants.O_NOCTTY;

function refuse(path: string, why: string): FatalError {
  return new FatalError(EXIT_SYSTEM, `unable to open SSLKEYLOGFILE ${path}: ${why}`);
}

function openOrCreate(path: string): number {
  try {
    return openSync(path, APPEND);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    // O_NOFOLLOW on a link gives ELOOP; say what it is.
    if (code === 'ELOOP') throw refuse(path, 'a symbolic link');
    // A FIFO without a reader gives ENXIO to a non-blocking writer.
    if (code === 'ENXIO') throw refuse(path, 'not a regular file');
    if (code !== 'ENOENT') throw refuse(path, describeSystemError(err));
  }
  try {
    // O_EXCL: a name that appeared in the meantime (a link, someone's file) is not taken over.
    return openSync(path, APPEND | constants.O_CREAT | constants.O_EXCL, 0o600);
  } catch (err) {
    throw refuse(path, describeSystemError(err));
  }
}

/** A writer of key-log lines (a TLS socket's or server's 'keylog' events) to `path`. */
export function openKeyLog(path: string): (line: Buffer) => void {
  const fd = openOrCreate(path);
  try {
    const stats = fstatSync(fd);
    const uid = process.geteuid?.() ?? stats.uid;
    if (!stats.isFile()) throw refuse(path, 'not a regular file');
    if (stats.uid !== uid) throw refuse(path, `owned by uid ${stats.uid}, not by uid ${uid} that the program runs as`);
    if (stats.mode & 0o177) throw refuse(path, `mode ${(stats.mode & 0o777).toString(8).padStart(4, '0')}: must be 0600 or stricter`);
  } catch (err) {
    closeSync(fd);
    throw err instanceof FatalError ? err : refuse(path, describeSystemError(err));
  }
  return (line) => {
    try {
      writeSync(fd, line);
    } catch {
      // a debugging aid: losing it must not break the connection
    }
  };
}
