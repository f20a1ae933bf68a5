// The tunnel's sides from descriptor numbers. The network: one stream per
// descriptor (fdr read, fdw written), or one socket when both are the same
// number. The cleartext: our own stdin and stdout.

import { FdInfo, finishWritable, inspectFd, pipeLoopsBack, openReadable, openSocket, openWritable } from './fds';
import { EXIT_SYSTEM, FatalError } from './errors';
import type { NetworkSide } from './transport';
import type { Cleartext } from './tunnel';

export function networkFromFds(fdrNumber: number, fdwNumber: number): NetworkSide {
  const fdr: FdInfo = inspectFd(fdrNumber, 'fdr');
  const fdw: FdInfo = inspectFd(fdwNumber, 'fdw');
  for (const [info, role] of [[fdr, 'fdr'], [fdw, 'fdw']] as const) {
    if (pipeLoopsBack(info)) {
      throw new FatalError(EXIT_SYSTEM, `unable to use ${role} (fd ${info.fd}): a pipe whose other end is this process's own, not a network connection`);
    }
  }
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
