// s6-tlsserver's command line -> one description of the run. It is the C
// one: s6-tcpserver's options, s6-tcpserver-access's, s6-tlsd's (and ours),
// s6-applyuidgid's for prog, and -L. Pure, as the other config modules.

import { isIP } from 'net';
import { UsageError } from '../base/errors';
import { Environment, programFlags, unsignedOption } from '../cli/config';
import { ArgSpec, FlagSpec, OptionTable, parseOptions, parseUnsigned } from '../cli/options';
import { lastVerbosity, lookupFlags, verbosityFlags } from '../cli/ucspi';
import type { ProgramIdentity } from '../wiring/spawner';
import type { SuperServerConfig } from './super-server';
import { serverArgs, serverConfigFrom, serverFlags, ServerConfig } from './config';

export const TLSSERVER_USAGE =
  's6-tlsserver [ -q | -Q | -v ] [ -4 | -6 ] [ -1 ] [ -c maxconn ] [ -C localmaxconn ] [ -b backlog ] [ -G gidlist ] [ -g gid ] [ -u uid ] [ -U ] [ -W | -w ] [ -D | -d ] [ -H ] [ -h ] [ -R | -r ] [ -P | -p ] [ -l localname ] [ -B banner ] [ -t timeout ] [ -i rulesdir | -x rulesfile ] [ -S | -s ] [ -J | -j ] [ -Y | -y ] [ -Z | -z ] [ -K kimeout ] [ -k snilevel ] [ -L ] [ -- ] ip port prog...';

/** s6-tcpserver's limits: the C defaults and ceilings. */
export const MAXCONN_DEFAULT = 40;
export const MAXCONN_CEILING = 16384;

const tcpFlags: FlagSpec[] = [
  ...verbosityFlags,
  { short: '4', long: 'ipv4', key: 'ipv6', value: false, help: 'ip must be an IPv4 address' },
  { short: '6', long: 'ipv6', key: 'ipv6', value: true, help: 'ip must be an IPv6 address' },
  { short: '1', long: 'announce-port', key: 'announce', value: true, help: 'once listening, write the port and a newline to stdout and close it (readiness for s6)' },
  { short: 'U', long: 'uid-from-environment', key: 'identityFromEnv', value: true, help: 'prog runs with the ids in UID, GID and GIDLIST (as s6-envuidgid sets them); they are removed from its environment' },
  { short: 'W', long: 'lookup-errors-tolerated', key: 'strictLookups', value: false, help: 'a failed name lookup leaves the name unset (default)' },
  { short: 'w', long: 'lookup-errors-fatal', key: 'strictLookups', value: true, help: 'accepted for compatibility: a failed lookup leaves the name unset (a warning says so)' },
  { short: 'D', long: 'no-nagle', key: 'noDelay', value: true, help: "TCP_NODELAY: Nagle's algorithm off" },
  { short: 'd', long: 'nagle', key: 'noDelay', value: false, help: "keep Nagle's algorithm on (default)" },
  ...lookupFlags,
  { short: 'P', long: 'no-paranoid', key: 'paranoid', value: false, help: 'no forward check of the remote name (default)' },
  { short: 'p', long: 'paranoid', key: 'paranoid', value: true, help: 'accepted for compatibility: the remote name is not checked forward (a warning says so)' },
  { short: 'L', long: 'proxy-protocol', key: 'proxy', value: true, help: 'read a PROXY protocol header (v1 or v2, as haproxy sends it) in cleartext before the handshake, and take the client\'s address from it' },
];

const tcpArgs: ArgSpec[] = [
  { short: 'c', long: 'maxconn', key: 'maxconn', help: `connections at once, all clients (default ${MAXCONN_DEFAULT}, at most ${MAXCONN_CEILING}); one over it is closed at once with a warning` },
  { short: 'C', long: 'localmaxconn', key: 'localmaxconn', help: `connections at once from one address (default ${MAXCONN_DEFAULT}, at most maxconn)` },
  { short: 'b', long: 'backlog', key: 'backlog', help: 'the listening socket\'s backlog (default: the system\'s)' },
  { short: 'u', long: 'uid', key: 'uid', help: 'prog runs as this numeric uid (root only)' },
  { short: 'g', long: 'gid', key: 'gid', help: 'prog runs with this numeric gid (root only)' },
  { short: 'G', long: 'gidlist', key: 'gidlist', help: 'prog\'s supplementary groups, numeric, comma-separated (root only)' },
  { short: 'l', long: 'local-name', key: 'localname', help: 'TCPLOCALHOST, instead of a lookup' },
  { short: 't', long: 'timeout', key: 'timeout', help: 'each name lookup may take this many milliseconds (0, the default: the resolver\'s own limit)' },
  { short: 'B', long: 'banner', key: 'banner', help: 'written to the client in cleartext before the handshake' },
  { short: 'i', long: 'rules-directory', key: 'rulesdir', help: 'access rules: an s6 rules directory (ip4/, ip6/, reversedns/; allow, deny, env/)' },
  { short: 'x', long: 'rules-file', key: 'rulesfile', help: 'access rules: the cdb that s6-accessrules-cdb-from-fs makes of such a directory' },
];

/** s6-tlsd's options, but -v: here it is the UCSPI flag (-v without a value). */
const tlsArgs = serverArgs.filter((a) => a.key !== 'verbosity');

export const tlsserverTable: OptionTable = {
  flags: [...serverFlags, ...programFlags, ...tcpFlags],
  args: [...tlsArgs, ...tcpArgs],
};

/** The run: what the listener needs (SuperServerConfig), and what the program sets up around it. */
export interface TlsServerRun extends SuperServerConfig {
  tls: ServerConfig;
  verbosity: number;
  ident: boolean;
  paranoid: boolean;
  strictLookups: boolean;
  rules?: { kind: 'dir' | 'cdb'; path: string };
  proxy: boolean;
  /** prog's identity (-u, -g, -G, -U); undefined: the server's */
  identity?: ProgramIdentity;
}

function id(text: string, label: string): number {
  const n = parseUnsigned(text);
  if (n === undefined || n > 0xffffffff) throw new UsageError(`${label} must be a numeric id`);
  return n;
}

function idList(text: string, label: string): number[] {
  return text === '' ? [] : text.split(',').map((t) => id(t, label));
}

/** -u, -g, -G, and -U's variables (which then leave prog's environment). */
function identityFrom(values: Record<string, string[]>, fromEnv: boolean, env: NodeJS.ProcessEnv): ProgramIdentity | undefined {
  const identity: ProgramIdentity = {};
  if (fromEnv) {
    if (env.UID === undefined || env.GID === undefined) throw new UsageError('-U: UID and GID must be set (s6-envuidgid sets them)', true);
    identity.uid = id(env.UID, '$UID');
    identity.gid = id(env.GID, '$GID');
    identity.groups = idList(env.GIDLIST ?? '', '$GIDLIST');
    delete env.UID;
    delete env.GID;
    delete env.GIDLIST;
  }
  if (values.uid) identity.uid = id(values.uid[0], 'uid');
  if (values.gid) identity.gid = id(values.gid[0], 'gid');
  if (values.gidlist) identity.groups = idList(values.gidlist[0], 'gidlist');
  return Object.keys(identity).length ? identity : undefined;
}

export function tlsserverConfigFromArgv(argv: readonly string[], env: Environment, isRoot: boolean): TlsServerRun {
  const { flags, values, operands } = parseOptions(argv, tlsserverTable);
  if (operands.length < 3) throw new UsageError(['missing ip, port and prog', 'missing port and prog', 'missing prog'][operands.length]);
  const [ip, portText, ...prog] = operands;
  const family = isIP(ip);
  if (!family) throw new UsageError(`invalid ip: ${ip}`);
  if (flags.ipv6 !== undefined && family !== (flags.ipv6 ? 6 : 4)) throw new UsageError(`ip ${ip} is not an IPv${flags.ipv6 ? 6 : 4} address`);
  const port = parseUnsigned(portText);
  if (port === undefined || port > 65535) throw new UsageError(`invalid port: ${portText}`);
  const maxConn = unsignedOption(values, 'maxconn', 'maxconn', MAXCONN_DEFAULT);
  if (maxConn < 1 || maxConn > MAXCONN_CEILING) throw new UsageError(`maxconn must be between 1 and ${MAXCONN_CEILING}`);
  const localMaxConn = unsignedOption(values, 'localmaxconn', 'localmaxconn', Math.min(MAXCONN_DEFAULT, maxConn));
  if (localMaxConn < 1 || localMaxConn > maxConn) throw new UsageError('localmaxconn must be between 1 and maxconn');
  const backlog = values.backlog ? unsignedOption(values, 'backlog', 'backlog', 0) : undefined;
  if (values.rulesdir && values.rulesfile) throw new UsageError('-i and -x are exclusive: give one rules source');
  const verbosity = lastVerbosity(argv, tlsserverTable);
  const tls = serverConfigFrom(flags, { ...values, verbosity: [String(verbosity)] }, env, isRoot);
  const baseEnv: NodeJS.ProcessEnv = { ...env };
  const identity = identityFrom(values, flags.identityFromEnv ?? false, baseEnv);
  if (identity && !isRoot) throw new UsageError('-u, -g, -G and -U need root: only root can start prog as another user', true);
  const timeout = unsignedOption(values, 'timeout', 'timeout', 0);
  return {
    tls,
    verbosity,
    ip,
    port,
    backlog,
    maxConn,
    localMaxConn,
    announcePort: flags.announce ?? false,
    lookups: { lookups: !(flags.noDns ?? false), hosts: flags.hosts ?? false, localName: values.localname?.[0], timeoutMs: timeout || undefined },
    ident: flags.ident ?? false,
    paranoid: flags.paranoid ?? false,
    strictLookups: flags.strictLookups ?? false,
    noDelay: flags.noDelay ?? false,
    banner: values.banner?.[0],
    rules: values.rulesdir ? { kind: 'dir', path: values.rulesdir[0] } : values.rulesfile ? { kind: 'cdb', path: values.rulesfile[0] } : undefined,
    proxy: flags.proxy ?? false,
    keepTlsConfig: flags.keepTlsConfig ?? false,
    identity,
    baseEnv,
    argv: prog,
  };
}
