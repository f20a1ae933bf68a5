// s6-tlsc: the network on rfd/wfd (default 6/7); after the handshake, prog
// runs with its rfd/wfd on the cleartext side of the tunnel.

import { engineConfigFrom, progNetworkFds, programFlags, sessionArgs, sessionFlags } from '../cli/config';
import { optionArgv, parseOptions, OptionTable } from '../cli/options';
import { UsageError } from '../base/errors';
import { prepareEngine } from '../client/prepare';
import { isRoot, willDrop } from '../engine/privileges';
import { callerNetworkFd, networkFromFds } from '../engine/network';
import { runWithProgram } from '../wiring/prog';
import { runWithEngineProcess } from '../wiring/engine-process';
import { messenger, runProgram } from '../cli/program';
import { familyEnvironment, programExitCodes } from '../cli/help';

const PROG = 's6-tlsc';
const USAGE =
  's6-tlsc [ -S | -s ] [ -J | -j ] [ -Y | -y ] [ -Z | -z ] [ -v verbosity ] [ -K kimeout ] [ -k servername ] [ -6 rfd ] [ -7 wfd ] [ -- ] prog...';

const table: OptionTable = {
  flags: [
    ...sessionFlags,
    ...programFlags,
  ],
  args: [
    ...sessionArgs,
    { short: '6', key: 'rfd', help: 'the descriptor to read the network from, and prog\'s descriptor to read cleartext from; default 6' },
    { short: '7', key: 'wfd', help: 'the descriptor to write the network to, and prog\'s descriptor to write cleartext to; default 7' },
  ],
};

async function main(): Promise<number> {
  const { flags, values, operands } = parseOptions(process.argv.slice(2), table);
  if (operands.length < 1) throw new UsageError('missing prog');
  const { rfd, wfd } = progNetworkFds(values);
  const config = engineConfigFrom(flags, values, process.env, isRoot());
  const launch = { argv: operands, rfd, wfd, keepTlsConfig: flags.keepTlsConfig ?? false };
  // Root dropping privileges: the engine drops in a process of its own, and
  // prog keeps the caller's identity, as with the C original.
  if (willDrop(config.drop)) {
    // The caller's descriptors, before the engine child gets them (the
    // in-process engine checks them as s6-tlsc-io does, in networkFromFds).
    callerNetworkFd(rfd, 'fdr');
    callerNetworkFd(wfd, 'fdw');
    return runWithEngineProcess({ rfd, wfd }, optionArgv({ flags: sessionFlags, args: sessionArgs }, flags, values), launch);
  }
  const say = messenger(PROG, config.verbosity);
  const engine = prepareEngine(config, say);
  const network = networkFromFds(rfd, wfd);
  return runWithProgram(network, engine, launch, say);
}

runProgram(
  {
    name: PROG,
    synopsis: USAGE,
    summary: 'TLS handshake over the connection on descriptors 6 and 7, then prog with its 6 and 7 on the cleartext side and the connection report (SSL_PROTOCOL, SSL_CIPHER, ...) in its environment.',
    table,
    operands: [['prog...', 'the program to run once the handshake succeeded, and its arguments']],
    environment: familyEnvironment,
    exitCodes: programExitCodes,
  },
  main,
);
