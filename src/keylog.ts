// SSLKEYLOGFILE: NSS key-log lines for debugging with Wireshark. The file is
// opened before privileges are dropped, created with mode 0600, appended to.

import { openSync, writeSync } from 'fs';
import type { TLSSocket } from 'tls';
import { EXIT_SYSTEM, FatalError, describeSystemError } from './errors';

export function openKeyLog(path: string): (socket: TLSSocket) => void {
  let fd: number;
  try {
    fd = openSync(path, 'a', 0o600);
  } catch (err) {
    throw new FatalError(EXIT_SYSTEM, `unable to open SSLKEYLOGFILE ${path}: ${describeSystemError(err)}`);
  }
  return (socket) => {
    socket.on('keylog', (line: Buffer) => {
      try {
        writeSync(fd, line);
      } catch {
        // a debugging aid: losing it must not break the connection
      }
    });
  };
}
