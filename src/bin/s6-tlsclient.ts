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
import { programPipes, runWithProgram } from '../tlsc';
import { stdioCleartext } from '../network';
import { runWithEngineProcess } from '../engine-process';
import { messenger, runProgram } from '../program';
import { startTls, starttlsProtocol } from '../starttls';
import { hostname } from 'os';

const PROG = 's6-tlsclient';
const USAGE =
  's6-tlsclient [ -4 | -6 ] [ -d | -D ] [ -H ] [ -t timeout ] [ -S | -s ] [ -J | -j ] [ -Y | -y ] [ -Z | -z ] [ -v verbosity ] [ -K kimeout ] [ -k servername ] [ -- ] host port [ prog... ]';

const table: OptionTable = {
  flags: [
    ...sessionFlags,
    ...programFlags,
    { short: '4', key: 'ipv6', value: false },
    { short: '6', key: 'ipv6', value: true },
    { short: 'd', key: 'noDelay', value: true },
    { short: 'D', key: 'noDelay', value: false },
    { short: 'H', key: 'noServername', value: true },
  ],
  args: [...sessionArgs, { short: 't', key: 'timeout' }, { long: 'starttls', key: 'starttls' }, { short: 'l', key: 'localname' }],
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
  const starttls = values.starttls ? starttlsProtocol(values.starttls[0]) : undefined;
  const say = messenger(PROG, config.verbosity);
  const serverName = config.servername?.kind === 'dns' ? config.servername.name : host;
  const connect = async (): Promise<Socket> => {
    const socket = await connectTcp(host, port, { family, timeoutMs, noDelay: flags.noDelay ?? true });
    if (starttls) await startTls(socket, starttls, { helloName: values.localname?.[0] ?? hostname(), serverName }, (line) => say.info(line));
    return socket;
  };
  // Root dropping privileges with a program to run: the engine drops in a
  // process of its own, prog keeps the caller's identity (as in C).
  if (prog.length > 0 && willDrop(config.drop)) {
    const socket = await connect();
    const engineOptions = optionArgv({ flags: sessionFlags, args: sessionArgs }, flags, values);
    if (config.servername && !values.servername) engineOptions.push(`--servername=${host}`);
    return runWithEngineProcess({ socket }, engineOptions, { argv: prog, rfd: 6, wfd: 7, keepTlsConfig: flags.keepTlsConfig ?? false, extraEnv: tcpEnvironment(socket) }, programPipes());
  }
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

runProgram(PROG, USAGE, main);
