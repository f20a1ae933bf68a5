// Writes the connection report to the -d descriptor, then closes it.

import { closeSync, writeSync } from 'fs';
import { EXIT_SYSTEM, FatalError, describeSystemError } from '../base/errors';
import { callerWritableFdProblem } from './fds';
import { callerNetworkFd } from './network';
import { ConnectionReport, encodeNotification } from './report';

/**
 * Checks -d's descriptor before anything of ours opens one: a number the
 * caller left closed could otherwise be taken by a file we open (the key
 * log) and pass. fdr and fdw are looked at first so that their errors keep
 * coming first, as before -d was checked.
 */
export function checkNotificationFd(fd: number, fdr: number, fdw: number): void {
  callerNetworkFd(fdr, 'fdr');
  callerNetworkFd(fdw, 'fdw');
  const problem = callerWritableFdProblem(fd);
  if (problem) throw new FatalError(EXIT_SYSTEM, `unable to use notification fd ${fd}: ${problem}`);
}

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
