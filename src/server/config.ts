// Options and environment of the server programs (s6-tlsd-io, s6-tlsd,
// s6-ucspitlsd) -> one immutable description of the run. Pure, as the
// client's src/cli/config.ts, whose shared parts it reuses: only what is the
// server's own is here (key pairs and SNI, client certificates, defaults).

import { UsageError } from '../base/errors';
import { OptionTable, parseOptions, parseUnsigned } from '../cli/options';
import {
  endFlags,
  Environment,
  isAlpnName,
  isGroupName,
  privilegeDropFrom,
  SessionPolicy,
  TrustSource,
  trustSourceFrom,
  unsignedOption,
} from '../cli/config';

export const TLSD_IO_USAGE =
  's6-tlsd-io [ -S | -s ] [ -J | -j ] [ -Y | -y ] [ -v verbosity ] [ -K kimeout ] [ -k snilevel ] [ -d notif ] [ -- ] fdr fdw';

export type ClientCertPolicy = 'none' | 'optional' | 'required';

/** The options of every server program. */
export const serverFlags: OptionTable['flags'] = [
  ...endFlags('client'),
  { short: 'Y', long: 'ask-client-cert', key: 'clientCertRequired', value: false, help: 'ask the client for a certificate, and go on without one; one it sends must verify against CADIR or CAFILE' },
  { short: 'y', long: 'require-client-cert', key: 'clientCertRequired', value: true, help: 'require a client certificate that verifies against CADIR or CAFILE; without one the handshake fails' },
];

export const serverArgs: OptionTable['args'] = [
  { short: 'v', long: 'verbosity', key: 'verbosity', help: '0 quiet, 1 warnings (default), 2 adds info lines, 3 debug lines' },
  { short: 'K', long: 'handshake-timeout', aliases: ['kimeout'], key: 'kimeout', help: 'the whole handshake must end within kimeout milliseconds, else exit 98; 0, the default, is no limit' },
  { short: 'k', long: 'sni-level', key: 'sniLevel', valueName: 'snilevel', help: '0 (default): KEYFILE and CERTFILE only; 1: also the KEYFILE:name/CERTFILE:name pairs, chosen by the client\'s SNI, the plain pair as fallback; 2 or more: only the named pairs, a client naming none is refused' },
  { long: 'alpn', key: 'alpn', valueName: 'p1,p2', help: 'the ALPN protocols this server speaks, best first; the one agreed is reported as SSL_ALPN_PROTOCOL' },
  { long: 'groups', key: 'groups', valueName: 'g1:g2', help: 'key exchange groups to accept, best first (OpenSSL names, e.g. X25519MLKEM768:X25519)' },
];

export const tlsdIoOptionTable: OptionTable = {
  flags: serverFlags,
  args: [...serverArgs, { short: 'd', long: 'notification-fd', key: 'notif', help: 'after the handshake, write the connection report to descriptor notif, then close it; 0: none' }],
};

/** A key pair: the certificate chain file and its private key file. */
export interface KeyPairFiles {
  certFile: string;
  keyFile: string;
}

/** A pair chosen by SNI: `name` is a host name, or `*.` and a name of two labels or more. */
export interface NamedKeyPair extends KeyPairFiles {
  name: string;
}

/** What every server program needs before it has a connection. */
export interface ServerConfig extends SessionPolicy {
  verbosity: number;
  clientCert: ClientCertPolicy;
  /** the anchors client certificates are verified against (when one is asked for) */
  trust?: TrustSource;
  /** KEYFILE/CERTFILE: the pair served when no named pair applies (absent at SNI level 2) */
  keyPair?: KeyPairFiles;
  /** KEYFILE:name/CERTFILE:name pairs (SNI level 1 and more) */
  namedPairs: NamedKeyPair[];
  /** 2 and more: a client whose SNI names no pair is refused */
  sniLevel: number;
  drop?: { uid: number; gid: number };
  keyLogFile?: string;
}

export interface ServerIoConfig extends ServerConfig {
  /** cleartext: read from fdr, write to fdw */
  fdr: number;
  fdw: number;
  notificationFd?: number;
}

/** A first label wildcard ("*.example.com") or a plain host name, lower case. */
function sniName(text: string): string | undefined {
  const name = text.toLowerCase().replace(/\.$/, '');
  const label = '[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?';
  if (new RegExp(`^${label}(\\.${label})*$`).test(name)) return name;
  // Only the first label may be a wildcard, and never over a single label (*.com).
  if (new RegExp(`^\\*(\\.${label}){2,}$`).test(name)) return name;
  return undefined;
}

/** Every KEYFILE:name/CERTFILE:name pair of the environment, in a stable order. */
export function namedKeyPairs(env: Environment): NamedKeyPair[] {
  const names = new Set<string>();
  for (const key of Object.keys(env)) {
    const m = /^(KEYFILE|CERTFILE):(.*)$/.exec(key);
    if (m && env[key]) names.add(m[2]);
  }
  return [...names].sort().map((raw) => {
    const name = sniName(raw);
    if (!name) throw new UsageError(`invalid name in KEYFILE:${raw} or CERTFILE:${raw}: a host name, or *. and a name of two labels or more`, true);
    const keyFile = env[`KEYFILE:${raw}`];
    const certFile = env[`CERTFILE:${raw}`];
    if (!keyFile) throw new UsageError(`CERTFILE:${raw} is set without KEYFILE:${raw}`, true);
    if (!certFile) throw new UsageError(`KEYFILE:${raw} is set without CERTFILE:${raw}`, true);
    return { name, certFile, keyFile };
  });
}

function listOption(values: Record<string, string[]>, key: string, separator: string, valid: (s: string) => boolean, words: string): string[] | undefined {
  const text = values[key]?.[0];
  if (text === undefined) return undefined;
  const list = text.split(separator);
  if (!list.every(valid)) throw new UsageError(words);
  return list;
}

/** The shared part of the server programs' configuration, options then environment. */
export function serverConfigFrom(flags: Record<string, boolean>, values: Record<string, string[]>, env: Environment, isRoot: boolean): ServerConfig {
  const required = flags.clientCertRequired;
  const clientCert: ClientCertPolicy = required === undefined ? 'none' : required ? 'required' : 'optional';
  const sniLevel = unsignedOption(values, 'sniLevel', 'snilevel', 0);
  const policy: SessionPolicy = {
    alpnProtocols: listOption(values, 'alpn', ',', isAlpnName, 'alpn must be a comma-separated list of protocol names'),
    groups: listOption(values, 'groups', ':', isGroupName, 'groups must be a colon-separated list of group names (e.g. X25519MLKEM768:X25519)'),
    // A server has no reason to be liberal: TLS 1.2 and 1.3 only.
    minVersion: 'TLSv1.2',
    maxVersion: 'TLSv1.3',
    closeNotify: flags.closeNotify ?? false,
    enforceCloseNotify: flags.enforceCloseNotify ?? false,
    noShutdown: flags.noShutdown ?? false,
    handshakeTimeoutMs: unsignedOption(values, 'kimeout', 'kimeout', 0),
    verify: true,
  };
  const namedPairs = sniLevel >= 1 ? namedKeyPairs(env) : [];
  let keyPair: KeyPairFiles | undefined;
  if (sniLevel < 2) {
    if (!env.KEYFILE) throw new UsageError('KEYFILE not set', true);
    if (!env.CERTFILE) throw new UsageError('CERTFILE not set', true);
    keyPair = { certFile: env.CERTFILE, keyFile: env.KEYFILE };
  } else if (namedPairs.length === 0) {
    throw new UsageError(`no KEYFILE:name and CERTFILE:name pair set, and snilevel ${sniLevel} ignores KEYFILE and CERTFILE`, true);
  }
  return {
    ...policy,
    verbosity: unsignedOption(values, 'verbosity', 'verbosity', 1),
    clientCert,
    // Client certificates need anchors; otherwise CADIR and CAFILE are not read.
    trust: clientCert === 'none' ? undefined : trustSourceFrom(env),
    keyPair,
    namedPairs,
    sniLevel,
    drop: privilegeDropFrom(env, isRoot),
    keyLogFile: env.SSLKEYLOGFILE || undefined,
  };
}

export function tlsdIoConfigFromArgv(argv: readonly string[], env: Environment, isRoot: boolean): ServerIoConfig {
  const { flags, values, operands } = parseOptions(argv, tlsdIoOptionTable);
  if (operands.length < 2) throw new UsageError(operands.length ? 'missing fdw' : 'missing fdr and fdw');
  const fdr = parseUnsigned(operands[0]);
  const fdw = parseUnsigned(operands[1]);
  if (fdr === undefined || fdw === undefined) throw new UsageError('fdr and fdw must be unsigned integers');
  const notif = unsignedOption(values, 'notif', 'notification-fd', 0);
  // The report must not land in the cleartext or the ciphertext stream.
  if (notif !== 0 && (notif === 1 || notif === fdr || notif === fdw)) {
    throw new UsageError(`notification-fd ${notif} is stdout, fdr or fdw: the report would go into the data stream`);
  }
  return { ...serverConfigFrom(flags, values, env, isRoot), fdr, fdw, notificationFd: notif === 0 ? undefined : notif };
}
