// s6-tlsclient: connect to host port, then s6-tlsc over that connection, or,
// without prog, the terminal (stdin/stdout) through the tunnel.

import { engineConfigFrom, programFlags, parseServerName, sessionArgs, sessionFlags, unsignedOption } from '../config';
import { optionArgv, parseOptions, parseUnsigned, OptionTable } from '../options';
import { UsageError } from '../errors';
import { prepareEngine } from '../engine';
import { isRoot, willDrop } from '../privileges';
import { connectTcp } from '../connect';
import type { Socket } from 'net';
import { runTunnel } from '../tunnel';
import { runWithProgram } from '../tlsc';
import { stdioCleartext } from '../network';
import { runWithEngineProcess } from '../engine-process';
import { messenger, runProgram } from '../program';
import { familyEnvironment } from '../help';

const PROG = 's6-tlsclient';
const USAGE =
  's6-tlsclient [ -4 | -6 ] [ -d | -D ] [ -H ] [ -t timeout ] [ -S | -s ] [ -J | -j ] [ -Y | -y ] [ -Z | -z ] [ -v verbosity ] [ -K kimeout ] [ -k servername ] [ -- ] host port [ prog... ]';

const table: OptionTable = {
  flags: [
    ...sessionFlags,
    ...programFlags,
    { short: '4', key: 'ipv6', value: false, help: 'connect over IPv4 only' },
    { short: '6', key: 'ipv6', value: true, help: 'connect over IPv6 only; default: both, in the resolver\'s order' },
    { short: 'd', key: 'noDelay', value: true, help: 'set TCP_NODELAY on the connection; default' },
    { short: 'D', key: 'noDelay', value: false, help: 'do not' },
    { short: 'H', key: 'noServername', value: true, help: 'no server name: no SNI and no name check (by default host names the server, unless -k)' },
  ],
  args: [...sessionArgs, { short: 't', key: 'timeout', help: 'each connection attempt must succeed within timeout milliseconds; 0: the system\'s limit (default)' }],
};

async function main(): Promise<number> {
  const { flags, values, operands } = parseOptions(process.argv.slice(2), table);
  if (operands.length < 2) throw new UsageError('missing host or port');
  const [host, portText, ...prog] = operands;
  const port = parseUnsigned(portText);
  if (port === undefined || port === 0 || port > 65535) throw new UsageError(`invalid port: ${portText}`, true);
  const timeoutMs = unsignedOption(values, 'timeout', 'timeout', 0);
  const config = engineConfigFrom(flags, values, process.env, isRoot());
  // The host names the server unless -k overrides it or -H disables it.
  if (!config.servername && !flags.noServername) config.servername = parseServerName(host);
  if (flags.noServername && !values.servername) config.servername = undefined;
  const family = flags.ipv6 === undefined ? 0 : flags.ipv6 ? 6 : 4;
  const connect = () => connectTcp(host, port, { family, timeoutMs, noDelay: flags.noDelay ?? true });
  // Root dropping privileges with a program to run: the engine drops in a
  // process of its own, prog keeps the caller's identity (as in C).
  if (prog.length > 0 && willDrop(config.drop)) {
    const socket = await connect();
    const engineOptions = optionArgv({ flags: sessionFlags, args: sessionArgs }, flags, values);
    if (config.servername && !values.servername) engineOptions.push(`--servername=${host}`);
    return runWithEngineProcess({ socket }, engineOptions, { argv: prog, rfd: 6, wfd: 7, keepTlsConfig: flags.keepTlsConfig ?? false, extraEnv: tcpEnvironment(socket) });
  }
  const say = messenger(PROG, config.verbosity);
  const engine = prepareEngine(config, say);
  const socket = await connect();
  const network = { kind: 'socket' as const, socket };
  if (prog.length === 0) {
    await runTunnel({ network, cleartext: stdioCleartext() }, engine);
    return 0;
  }
  return runWithProgram(network, engine, { argv: prog, rfd: 6, wfd: 7, keepTlsConfig: flags.keepTlsConfig ?? false, extraEnv: tcpEnvironment(socket) }, say);
}

function tcpEnvironment(socket: Socket): Record<string, string> {
  return {
    PROTO: 'TCP',
    TCPREMOTEIP: socket.remoteAddress ?? '',
    TCPREMOTEPORT: String(socket.remotePort ?? ''),
    TCPLOCALIP: socket.localAddress ?? '',
    TCPLOCALPORT: String(socket.localPort ?? ''),
  };
}

runProgram(
  {
    name: PROG,
    synopsis: USAGE,
    summary: 'Connects to host port over TCP, then does what s6-tlsc does over that connection; without prog, the terminal talks to the server: stdin to it, its answer to stdout.',
    table,
    operands: [
      ['host', 'the server: a name (resolved, and the server name unless -k or -H) or an IP address'],
      ['port', 'its TCP port'],
      ['prog...', 'the program to run over the connection, as with s6-tlsc; PROTO, TCPREMOTEIP, TCPREMOTEPORT, TCPLOCALIP and TCPLOCALPORT are added to its environment'],
    ],
    environment: familyEnvironment,
    exitCodes: [
      ['prog\'s code', 'with prog: its exit code once it ran (128 + the signal number if it was killed)'],
      ['0', 'without prog: the connection ended normally'],
      ['96', 'bad trust anchors, key or certificate'],
      ['97', 'the TLS engine could not be set up'],
      ['98', 'TLS error in the handshake (prog is then not started) or, without prog, in the session'],
      ['100', 'wrong usage: bad option, number or operand, missing variable'],
      ['111', 'system error: host not found, connection refused or timed out, read or write error, prog cannot be started'],
    ],
  },
  main,
);
