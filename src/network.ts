// The tunnel's sides from descriptor numbers. The network: one socket (the
// native TLS path) when both name the same socket, else two ends. The
// cleartext: our own stdin and stdout.

import { FdInfo, finishWritable, inspectFd, pipeLoopsBack, openReadable, openSocket, openWritable, sameSocket } from './fds';
import { EXIT_SYSTEM, FatalError } from './errors';
import type { Cleartext, NetworkSide } from './tunnel';

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

/** The application's side on our stdin and stdout (s6-tlsc-io, s6-tlsclient without prog). */
export function stdioCleartext(): Cleartext {
  const stdin = inspectFd(0, 'stdin');
  const stdout = inspectFd(1, 'stdout');
  const output = openWritable(stdout);
  return { input: openReadable(stdin), output, endOutput: (done) => finishWritable(output, stdout, done) };
}
