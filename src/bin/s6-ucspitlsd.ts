// s6-ucspitlsd: the server half of UCSPI-TLS. prog runs at once in
// cleartext with the client's connection as its stdin and stdout, plus a
// control socket and two channels named in its environment; when it writes
// `y` or `Y` on the control socket (after its protocol's STARTTLS), the
// server's handshake starts on the connection with those channels as the
// cleartext side.

import { programFlags } from '../cli/config';
import { optionArgv, parseOptions, OptionTable } from '../cli/options';
import { UsageError } from '../base/errors';
import { serverArgs, serverConfigFrom, serverFlags } from '../server/config';
import { prepareServer } from '../server/prepare';
import { serverEnvironment } from '../server/help';
import { isRoot, willDrop } from '../engine/privileges';
import { callerNetworkFd, RUN_UNDER_TCP_SERVER } from '../engine/network';
import { startServerEngineProcess } from '../wiring/engine-process';
import { runUcspiTls } from '../wiring/ucspi-tls';
import { messenger, runProgram } from '../cli/program';

const PROG = 's6-ucspitlsd';
const USAGE =
  's6-ucspitlsd [ -S | -s ] [ -J | -j ] [ -Y | -y ] [ -Z | -z ] [ -v verbosity ] [ -K kimeout ] [ -k snilevel ] [ -- ] prog...';

const table: OptionTable = {
  flags: [...serverFlags, ...programFlags],
  args: serverArgs,
};

async function main(): Promise<number> {
  const { flags, values, operands } = parseOptions(process.argv.slice(2), table);
  if (operands.length < 1) throw new UsageError('missing prog');
  const config = serverConfigFrom(flags, values, process.env, isRoot());
  const say = messenger(PROG, config.verbosity);
  // Before prog starts: a number left closed may be one of Node's own.
  callerNetworkFd(0, 'fdr', RUN_UNDER_TCP_SERVER);
  callerNetworkFd(1, 'fdw', RUN_UNDER_TCP_SERVER);
  // Root dropping privileges: the engine will drop in a process of its own;
  // this one keeps the caller's identity for prog. Otherwise the key pairs
  // load now, so that a bad one fails before prog starts.
  const engine = willDrop(config.drop) ? undefined : prepareServer(config, say);
  return runUcspiTls({
    prog: PROG,
    argv: operands,
    rfd: 0,
    wfd: 1,
    keepTlsConfig: flags.keepTlsConfig ?? false,
    engine,
    startChild: (cleartext) => startServerEngineProcess(optionArgv({ flags: serverFlags, args: serverArgs }, flags, values), cleartext),
    howToRun: RUN_UNDER_TCP_SERVER,
    say,
  });
}

runProgram(
  {
    name: PROG,
    synopsis: USAGE,
    summary:
      'The server half of UCSPI-TLS (STARTTLS): prog runs at once in cleartext on the client\'s connection (its stdin and stdout), with SSLCTLFD, SSLREADFD and SSLWRITEFD in its environment; when it writes y (or Y, for the connection report on the control socket) to SSLCTLFD, the TLS handshake is answered on the connection and prog talks through SSLREADFD and SSLWRITEFD.',
    table,
    operands: [['prog...', 'the application and its arguments']],
    environment: serverEnvironment,
    exitCodes: [
      ["prog's code", 'once prog started: its exit code (128 + the signal number if it was killed), whether TLS started or not'],
      ['100', 'wrong usage, or a command byte other than y, Y or EOF on the control socket'],
      ['111', 'system error before prog started: bad descriptors, prog cannot be started'],
      ['96', 'bad key pair or anchors (read before prog starts)'],
    ],
  },
  main,
);
