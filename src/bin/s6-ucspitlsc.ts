// s6-ucspitlsc: the client half of UCSPI-TLS. prog runs at once in
// cleartext with the network on rfd/wfd, plus a control socket and two
// channels (socket pairs) named in its environment; when it writes `y` or `Y` on the control
// socket, TLS starts on the network with those pipes as the cleartext side.

import { engineConfigFrom, progNetworkFds, programFlags, sessionArgs, sessionFlags } from '../cli/config';
import { optionArgv, parseOptions, OptionTable } from '../cli/options';
import { UsageError } from '../base/errors';
import { prepareEngine } from '../client/prepare';
import { isRoot, willDrop } from '../engine/privileges';
import { callerNetworkFd, RUN_UNDER_TCP_CLIENT } from '../engine/network';
import { startEngineProcess } from '../wiring/engine-process';
import { runUcspiTls } from '../wiring/ucspi-tls';
import { messenger, runProgram } from '../cli/program';
import { familyEnvironment } from '../cli/help';

const PROG = 's6-ucspitlsc';
const USAGE =
  's6-ucspitlsc [ -S | -s ] [ -J | -j ] [ -Y | -y ] [ -Z | -z ] [ -v verbosity ] [ -K kimeout ] [ -k servername ] [ -6 rfd ] [ -7 wfd ] [ -- ] prog...';

const table: OptionTable = {
  flags: [...sessionFlags, ...programFlags],
  args: [...sessionArgs, { short: '6', key: 'rfd', help: 'read the network from descriptor rfd (default 6)' }, { short: '7', key: 'wfd', help: 'write the network to descriptor wfd (default 7)' }],
};

async function main(): Promise<number> {
  const { flags, values, operands } = parseOptions(process.argv.slice(2), table);
  if (operands.length < 1) throw new UsageError('missing prog');
  const { rfd, wfd } = progNetworkFds(values);
  const config = engineConfigFrom(flags, values, process.env, isRoot());
  const say = messenger(PROG, config.verbosity);
  // Before prog starts: a number left closed may be one of Node's own.
  callerNetworkFd(rfd, 'fdr');
  callerNetworkFd(wfd, 'fdw');
  // Root dropping privileges: the engine will drop in a process of its own;
  // this one keeps the caller's identity for prog. Otherwise the
  // credentials load now, so that a bad one fails before prog starts.
  const dropping = willDrop(config.drop);
  const engine = dropping ? undefined : prepareEngine(config, say);

  return runUcspiTls({
    prog: PROG,
    argv: operands,
    rfd,
    wfd,
    keepTlsConfig: flags.keepTlsConfig ?? false,
    engine,
    startChild: (cleartext) => startEngineProcess({ rfd, wfd }, optionArgv({ flags: sessionFlags, args: sessionArgs }, flags, values), cleartext),
    howToRun: RUN_UNDER_TCP_CLIENT,
    say,
  });
}

runProgram(
  {
    name: PROG,
    synopsis: USAGE,
    summary:
      'The client half of UCSPI-TLS (STARTTLS): prog runs at once in cleartext on the network descriptors 6 and 7, with SSLCTLFD, SSLREADFD and SSLWRITEFD in its environment; when it writes y (or Y, for the connection report on the control socket) to SSLCTLFD, TLS starts on the connection and prog talks through SSLWRITEFD and SSLREADFD.',
    table,
    operands: [['prog...', 'the application and its arguments']],
    environment: familyEnvironment,
    exitCodes: [
      ["prog's code", 'once prog started: its exit code (128 + the signal number if it was killed), whether TLS started or not'],
      ['100', 'wrong usage, or a command byte other than y, Y or EOF on the control socket'],
      ['111', 'system error before prog started: bad descriptors, prog cannot be started'],
      ['96', 'bad trust anchors, key or certificate (read before prog starts)'],
    ],
  },
  main,
);
