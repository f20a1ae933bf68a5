// The tunnel's sides from descriptor numbers. The network: one stream per
// descriptor (fdr read, fdw written), or one socket when both are the same
// number. The cleartext: our own stdin and stdout.

import { accessMode, FdInfo, finishWritable, inspectFd, pipeLoopsBack, openReadable, openSocket, openWritable } from './fds';
import { constants as fsConstants, fstatSync } from 'fs';
import { EXIT_SYSTEM, FatalError } from '../base/errors';
import type { NetworkSide } from './transport';
import type { Cleartext } from './tunnel';

/** What a missing network descriptor means to the user: how we are meant to be run. */
export const RUN_UNDER_TCP_CLIENT = 'run me under a TCP client such as tcpclient or s6-tcpclient';
/** The same for the server programs, whose network is stdin and stdout. */
export const RUN_UNDER_TCP_SERVER = 'run me under a TCP server such as tcpserver or s6-tcpserver';

/**
 * The network descriptors as the caller gave them, checked before anything
 * starts: a number the caller left closed is either closed here or taken by
 * one of Node's own descriptors that the runtime opened at start (an epoll,
 * an eventfd, an io_uring, or an internal pipe whose both ends are ours:
 * using those breaks the runtime). Either way the caller did not open it.
 */
export function callerNetworkFd(fd: number, role: 'fdr' | 'fdw', howToRun = RUN_UNDER_TCP_CLIENT): FdInfo {
  const notOpen = new FatalError(EXIT_SYSTEM, `fd ${fd} is not open: ${howToRun}`);
  try {
    // No file type at all: an anonymous inode, which only the runtime opens.
    if ((fstatSync(fd).mode & fsConstants.S_IFMT) === 0) throw notOpen;
  } catch (err) {
    if (err === notOpen || (err as NodeJS.ErrnoException).code === 'EBADF') throw notOpen;
  }
  const info = inspectFd(fd, role);
  if (pipeLoopsBack(info)) throw notOpen;
  // Refused here rather than with the runtime's words at the first read or write.
  const mode = accessMode(fd);
  if (role === 'fdw' && mode === 0) throw new FatalError(EXIT_SYSTEM, `unable to use fdw (fd ${fd}): not open for writing`);
  if (role === 'fdr' && mode === 1) throw new FatalError(EXIT_SYSTEM, `unable to use fdr (fd ${fd}): not open for reading`);
  return info;
}

export function networkFromFds(fdrNumber: number, fdwNumber: number, howToRun = RUN_UNDER_TCP_CLIENT): NetworkSide {
  const fdr: FdInfo = callerNetworkFd(fdrNumber, 'fdr', howToRun);
  const fdw: FdInfo = callerNetworkFd(fdwNumber, 'fdw', howToRun);
  if (fdrNumber === fdwNumber && fdr.kind === 'socket') return { kind: 'socket', socket: openSocket(fdr) };
  // tcpclient's 6 and 7 are one socket twice: a stream on each keeps the
  // directions apart, so a failed write ends only the writing stream and
  // what the server sent can still be read.
  const writable = openWritable(fdw);
  return {
    kind: 'split',
    readable: openReadable(fdr),
    writable,
    endWritable: (done) => finishWritable(writable, fdw, () => done()),
    readFd: fdr.fd,
  };
}

/**
 * The application's side on our stdin and stdout (s6-tlsc-io, s6-tlsclient
 * without prog), or on the descriptors s6-tlsc-io is told to use instead.
 */
export function stdioCleartext(inputFd = 0, outputFd = 1): Cleartext {
  const stdin = inspectFd(inputFd, inputFd === 0 ? 'stdin' : 'cleartext input');
  const stdout = inspectFd(outputFd, outputFd === 1 ? 'stdout' : 'cleartext output');
  const input = openReadable(stdin);
  const output = openWritable(stdout);
  return {
    input,
    output,
    endOutput: (done) => finishWritable(output, stdout, done),
    // Nothing of ours may keep the process alive once the session is over.
    release: () => {
      input.destroy();
      output.destroy();
    },
  };
}
