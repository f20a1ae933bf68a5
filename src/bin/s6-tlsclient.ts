// s6-tlsclient: connect to host port as s6-tcpclient does (its options,
// its variables), optionally speak a STARTTLS prelude, then s6-tlsc over
// that connection, or, without prog, the terminal (stdin/stdout) through
// the tunnel.

import { isIP, Socket } from 'net';
import { engineConfigFrom, programFlags, parseServerName, sessionArgs, sessionFlags, unsignedOption } from '../cli/config';
import { ArgSpec, FlagSpec, optionArgv, parseOptions, parseUnsigned, OptionTable } from '../cli/options';
import { UsageError } from '../base/errors';
import { prepareEngine } from '../client/prepare';
import { isRoot, willDrop } from '../engine/privileges';
import { connectTcp } from '../client/connect';
import { tcpEnvironment } from '../wiring/tcp-environment';
import { lastVerbosity, lookupFlags, verbosityFlags } from '../cli/ucspi';
import { runTunnel } from '../engine/tunnel';
import { runWithProgram } from '../wiring/prog';
import { stdioCleartext } from '../engine/network';
import { runWithEngineProcess } from '../wiring/engine-process';
import { messenger, runProgram } from '../cli/program';
import { familyEnvironment } from '../cli/help';
import { startTls, starttlsProtocol, STARTTLS_PROTOCOLS } from '../client/starttls';

const PROG = 's6-tlsclient';
const USAGE =
  's6-tlsclient [ -q | -Q | -v ] [ -4 | -6 ] [ -d | -D ] [ -r | -R ] [ -h ] [ -H ] [ -n | -N ] [ -t timeout ] [ -l localname ] [ -T timeoutconn ] [ -i localip ] [ -p localport ] [ -S | -s ] [ -J | -j ] [ -Y | -y ] [ -Z | -z ] [ -K kimeout ] [ -k servername ] [ --verbosity=N ] [ --starttls=PROTO ] [ -- ] host port [ prog... ]';

/** s6-tcpclient's options, with the long names of the C s6-tlsclient. */
const tcpFlags: FlagSpec[] = [
  ...verbosityFlags,
  { short: '4', long: 'ipv4', key: 'ipv6', value: false, help: 'IPv4 addresses only' },
  { short: '6', long: 'ipv6', key: 'ipv6', value: true, help: 'IPv6 addresses only' },
  { short: 'd', long: 'nagle', key: 'noDelay', value: false, help: "keep Nagle's algorithm on" },
  { short: 'D', long: 'no-nagle', key: 'noDelay', value: true, help: "TCP_NODELAY: Nagle's algorithm off (default here)" },
  { long: 'dns', key: 'noDns', value: false, help: 'look up names (default)' },
  { short: 'H', long: 'no-dns', key: 'noDns', value: true, help: 'no name lookups; host is not the server name' },
  ...lookupFlags.filter((f) => f.key !== 'noDns'),
  { short: 'N', long: 'no-qualify', key: 'qualify', value: false, help: 'do not qualify host (default)' },
  { short: 'n', long: 'qualify', key: 'qualify', value: true, help: "qualify host: the system resolver's search list applies either way" },
  // The C s6-tlsclient's names for -Z and -z.
  { long: 'keep', key: 'keepTlsConfig', value: true, help: 'as -Z' },
  { long: 'no-keep', key: 'keepTlsConfig', value: false, help: 'as -z' },
];

const tcpArgs: ArgSpec[] = [
  { short: 't', long: 'timeout', key: 'timeout', help: 'give up connecting after timeout seconds (0: never)' },
  { short: 'l', long: 'local-name', key: 'localname', help: 'TCPLOCALHOST and the SMTP/LMTP greeting name' },
  { short: 'T', long: 'connection-timeouts', key: 'attemptTimeouts', valueName: 'timeoutconn', help: 'x+y: each address tried for x seconds, then again for y' },
  { short: 'i', long: 'local-ip', key: 'localIp', valueName: 'localip', help: 'connect from this local address' },
  { short: 'p', long: 'local-port', key: 'localPort', valueName: 'localport', help: 'connect from this local port' },
  { long: 'starttls', key: 'starttls', valueName: 'PROTO', help: `speak this protocol's STARTTLS first: ${STARTTLS_PROTOCOLS.join(', ')}` },
];

// -v is s6-tcpclient's "verbose" flag here: the TLS side's level is --verbosity=N.
const tlsArgs = sessionArgs.map((a) => (a.key === 'verbosity' ? { ...a, short: undefined, valueName: 'N' } : a));

const table: OptionTable = {
  flags: [...sessionFlags, ...programFlags, ...tcpFlags],
  args: [...tlsArgs, ...tcpArgs],
};

/** -T x+y (seconds) as milliseconds; "x" alone means y = 0. */
function attemptTimeouts(text: string | undefined): [number, number] | undefined {
  if (text === undefined) return undefined;
  const m = /^([0-9]+)(?:\+([0-9]+))?$/.exec(text);
  const x = m && parseUnsigned(m[1]);
  const y = m && (m[2] === undefined ? 0 : parseUnsigned(m[2]));
  if (x == null || y == null) throw new UsageError('connection-timeouts must be x+y');
  return [x * 1000, y * 1000];
}

const TCP_VARIABLES = ['PROTO', 'TCPREMOTEIP', 'TCPREMOTEPORT', 'TCPLOCALIP', 'TCPLOCALPORT', 'TCPLOCALHOST', 'TCPREMOTEHOST', 'TCPREMOTEINFO'];

async function main(): Promise<number> {
  const argv = process.argv.slice(2);
  const { flags, values, operands } = parseOptions(argv, table);
  if (operands.length < 2) throw new UsageError('missing host or port');
  const [host, portText, ...prog] = operands;
  const port = parseUnsigned(portText);
  if (port === undefined || port === 0 || port > 65535) throw new UsageError(`invalid port: ${portText}`);
  // -t is in seconds, as in s6-tcpclient.
  const timeoutMs = unsignedOption(values, 'timeout', 'timeout', 0) * 1000;
  const localIp = values.localIp?.[0];
  if (localIp !== undefined && !isIP(localIp)) throw new UsageError('local-ip must be an IP address');
  const localPort = unsignedOption(values, 'localPort', 'local-port', 0);
  if (localPort > 65535) throw new UsageError('local-port must be a port number');
  const starttls = values.starttls ? starttlsProtocol(values.starttls[0]) : undefined;
  if (!values.verbosity) values.verbosity = [String(lastVerbosity(argv, table))];
  const config = engineConfigFrom(flags, values, process.env, isRoot());
  const say = messenger(PROG, config.verbosity);
  // The host names the server unless -k overrides it or -H disables it.
  if (!config.servername && !flags.noDns) config.servername = parseServerName(host);
  if (flags.ident) say.warn('IDENT lookups (-r) are not done: TCPREMOTEINFO stays unset');
  const localName = values.localname?.[0];
  const serverName = config.servername?.kind === 'dns' ? config.servername.name : host;
  // -K is one budget for the STARTTLS prelude and the handshake together,
  // counted from the moment the TCP connection is up: what the prelude
  // leaves of it is all the handshake gets.
  let handshakeTimeLeftMs: number | undefined;
  const connect = async (): Promise<Socket> => {
    const socket = await connectTcp(host, port, {
      family: flags.ipv6 === undefined ? 0 : flags.ipv6 ? 6 : 4,
      timeoutMs,
      attemptTimeoutsMs: attemptTimeouts(values.attemptTimeouts?.[0]),
      noDelay: flags.noDelay ?? true,
      localAddress: localIp,
      localPort,
    });
    say.info(`connected to ${socket.remoteAddress} port ${socket.remotePort}`);
    if (starttls) {
      const started = performance.now();
      await startTls(socket, starttls, { helloName: localName, serverName }, (line) => say.info(line), config.handshakeTimeoutMs);
      if (config.handshakeTimeoutMs > 0) handshakeTimeLeftMs = Math.max(1, Math.ceil(config.handshakeTimeoutMs - (performance.now() - started)));
    }
    return socket;
  };
  // prog sees only the TCP variables of this connection.
  for (const name of TCP_VARIABLES) delete process.env[name];
  const environmentOf = async (socket: Socket): Promise<Record<string, string>> => {
    const vars = await tcpEnvironment(socket, { lookups: !flags.noDns, hosts: flags.hosts ?? false, localName });
    const set: Record<string, string> = {};
    for (const [name, value] of Object.entries(vars)) if (value !== undefined) set[name] = value;
    return set;
  };
  const launch = (socket: Socket) => ({ argv: prog, rfd: 6, wfd: 7, keepTlsConfig: flags.keepTlsConfig ?? false, extraEnv: environmentOf(socket) });
  // Root dropping privileges with a program to run: the engine drops in a
  // process of its own, prog keeps the caller's identity (as in C).
  if (prog.length > 0 && willDrop(config.drop)) {
    const socket = await connect();
    // The engine process is told only what is left of -K.
    const left = handshakeTimeLeftMs === undefined ? values : { ...values, kimeout: [String(handshakeTimeLeftMs)] };
    const engineOptions = optionArgv({ flags: sessionFlags, args: sessionArgs }, flags, left);
    if (config.servername && !values.servername) engineOptions.push(`--servername=${host}`);
    return runWithEngineProcess({ socket }, engineOptions, launch(socket));
  }
  const prepared = prepareEngine(config, say);
  const socket = await connect();
  const engine = { ...prepared, handshakeTimeLeftMs };
  const network = { kind: 'socket' as const, socket };
  if (prog.length === 0) {
    await runTunnel({ network, cleartext: stdioCleartext() }, engine);
    return 0;
  }
  return runWithProgram(network, engine, launch(socket), say);
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
      ['prog...', 'the program to run over the connection, as with s6-tlsc; PROTO, TCPREMOTEIP, TCPREMOTEPORT, TCPLOCALIP, TCPLOCALPORT (and TCPLOCALHOST, TCPREMOTEHOST with lookups on) are added to its environment'],
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
