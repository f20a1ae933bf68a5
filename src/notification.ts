// Writes the connection report to the -d descriptor, then closes it.

import { closeSync, writeSync } from 'fs';
import { EXIT_SYSTEM, FatalError, describeSystemError } from './errors';
import { ConnectionReport, encodeNotification } from './report';

export function writeNotification(fd: number, report: ConnectionReport): void {
  const data = encodeNotification(report);
  try {
    let offset = 0;
    while (offset < data.length) offset += writeSync(fd, data, offset);
  } catch (err) {
    throw new FatalError(EXIT_SYSTEM, `unable to write post-handshake data to fd ${fd}: ${describeSystemError(err)}`);
  }
  try {
    closeSync(fd);
  } catch {
    // written in full: the reader has what it needs
  }
}
