// The network side of the tunnel from two descriptor numbers: one socket
// (the native TLS path) when both name the same socket, else two ends.

import { FdInfo, finishWritable, inspectFd, pipeLoopsBack, openReadable, openSocket, openWritable, sameSocket } from './fds';
import { EXIT_SYSTEM, FatalError } from './errors';
import type { NetworkSide } from './tunnel';

export function networkFromFds(fdrNumber: number, fdwNumber: number): NetworkSide {
  const fdr: FdInfo = inspectFd(fdrNumber, 'fdr');
  const fdw: FdInfo = inspectFd(fdwNumber, 'fdw');
  for (const [info, role] of [[fdr, 'fdr'], [fdw, 'fdw']] as const) {
    if (pipeLoopsBack(info)) {
      throw new FatalError(EXIT_SYSTEM, `unable to use ${role} (fd ${info.fd}): a pipe whose other end is this process's own, not a network connection`);
    }
  }
  if (sameSocket(fdr, fdw)) return { kind: 'socket', socket: openSocket(fdr) };
  const writable = openWritable(fdw);
  return {
    kind: 'split',
    readable: openReadable(fdr),
    writable,
    endWritable: (done) => finishWritable(writable, fdw, done),
  };
}
