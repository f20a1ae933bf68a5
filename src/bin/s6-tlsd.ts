// s6-tlsd: the network on stdin and stdout (as tcpserver gives it); after
// the handshake, prog runs with the cleartext side as its stdin and stdout.

import { programFlags } from '../cli/config';
import { optionArgv, parseOptions, OptionTable } from '../cli/options';
import { UsageError } from '../base/errors';
import { serverArgs, serverConfigFrom, serverFlags } from '../server/config';
import { prepareServer } from '../server/prepare';
import { serverEnvironment } from '../server/help';
import { isRoot, willDrop } from '../engine/privileges';
import { callerNetworkFd, networkFromFds, RUN_UNDER_TCP_SERVER } from '../engine/network';
import { runWithProgram } from '../wiring/prog';
import { runProgramOnEngine, startServerEngineProcess } from '../wiring/engine-process';
import { messenger, runProgram } from '../cli/program';
import { programExitCodes } from '../cli/help';

const PROG = 's6-tlsd';
const USAGE =
  's6-tlsd [ -S | -s ] [ -J | -j ] [ -Y | -y ] [ -Z | -z ] [ -v verbosity ] [ -K kimeout ] [ -k snilevel ] [ -- ] prog...';

const table: OptionTable = {
  flags: [...serverFlags, ...programFlags],
  args: serverArgs,
};

async function main(): Promise<number> {
  const { flags, values, operands } = parseOptions(process.argv.slice(2), table);
  if (operands.length < 1) throw new UsageError('missing prog');
  const config = serverConfigFrom(flags, values, process.env, isRoot());
  const say = messenger(PROG, config.verbosity);
  const launch = { argv: operands, rfd: 0, wfd: 1, keepTlsConfig: flags.keepTlsConfig ?? false };
  // Root dropping privileges: the engine drops in an s6-tlsd-io process of
  // its own, and prog keeps the caller's identity, as with the C original.
  if (willDrop(config.drop)) {
    callerNetworkFd(0, 'fdr', RUN_UNDER_TCP_SERVER);
    callerNetworkFd(1, 'fdw', RUN_UNDER_TCP_SERVER);
    return runProgramOnEngine(startServerEngineProcess(optionArgv({ flags: serverFlags, args: serverArgs }, flags, values)), launch);
  }
  const engine = prepareServer(config, say);
  const network = networkFromFds(0, 1, RUN_UNDER_TCP_SERVER);
  return runWithProgram(network, engine, launch, say);
}

runProgram(
  {
    name: PROG,
    synopsis: USAGE,
    summary: 'TLS server handshake over the connection on stdin and stdout (as tcpserver or s6-tcpserver gives it), then prog with the cleartext side as its stdin and stdout and the connection report (SSL_PROTOCOL, SSL_CIPHER, ...) in its environment.',
    table,
    operands: [['prog...', 'the program to run once the handshake succeeded, and its arguments']],
    environment: serverEnvironment,
    exitCodes: programExitCodes,
  },
  main,
);
