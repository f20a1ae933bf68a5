// Options and environment -> one immutable description of the run. Pure:
// nothing here opens a file or a descriptor.

import { isIP } from 'net';
import type { SecureVersion } from 'tls';
import { UsageError } from '../base/errors';
import { OptionTable, parseOptions, parseUnsigned } from './options';

export const USAGE =
  's6-tlsc-io [ -S | -s ] [ -J | -j ] [ -Y | -y ] [ -v verbosity ] [ -K kimeout ] [ -k servername ] [ -d notif ] [ -- ] fdr fdw';

/** How a session ends: the options of both roles; `peer` is the other end. */
export function endFlags(peer: 'server' | 'client'): OptionTable['flags'] {
  return [
    { short: 'S', long: 'close-notify', key: 'closeNotify', value: true, help: 'on local EOF, send a close_notify, then shut down the write side' },
    { short: 's', long: 'no-close-notify', key: 'closeNotify', value: false, help: 'on local EOF, shut down the write side without close_notify (TLS 1.3 always sends one first: it closes only our direction); default' },
    { short: 'J', long: 'enforce-close-notify', key: 'enforceCloseNotify', value: true, help: `an EOF from the ${peer} without a close_notify is fatal (98)` },
    { short: 'j', long: 'no-enforce-close-notify', key: 'enforceCloseNotify', value: false, help: 'such an EOF is a normal end; default' },
    // Beyond the original, after ncat: on local EOF send nothing (see SessionPolicy).
    {
      long: 'no-shutdown',
      key: 'noShutdown',
      value: true,
      help: peer === 'server'
        ? 'on local EOF send nothing (neither close_notify nor FIN): wait for the server to end, deliver its answer, then close; for servers such as nginx that take a half-close as the client giving up'
        : 'on local EOF send nothing (neither close_notify nor FIN): wait for the client to end, deliver what it sent, then close; for clients that take a half-close as the server giving up',
    },
  ];
}

/** The TLS options every client program takes. */
export const sessionFlags: OptionTable['flags'] = [
  ...endFlags('server'),
  { short: 'y', long: 'client-cert', key: 'clientCert', value: true, help: 'send the client certificate from CERTFILE and KEYFILE' },
  { short: 'Y', long: 'no-client-cert', key: 'clientCert', value: false, help: 'send no client certificate; default' },
  { long: 'verify-cert', key: 'verify', value: true, help: 'verify the server certificate; default' },
  { long: 'no-verify-cert', key: 'verify', value: false, help: 'do not verify it: insecure, for controlled setups only' },
];

export const sessionArgs: OptionTable['args'] = [
  { short: 'v', long: 'verbosity', key: 'verbosity', help: '0 quiet, 1 warnings (default), 2 adds info lines, 3 debug lines' },
  // The C original spells the long form "kimeout"; both are accepted.
  { short: 'K', long: 'handshake-timeout', aliases: ['kimeout'], key: 'kimeout', help: 'the whole handshake must end within kimeout milliseconds, else exit 98; 0, the default, is no limit' },
  { short: 'k', long: 'servername', key: 'servername', help: 'send servername as SNI and require the certificate to be valid for it; an IP address is matched against the certificate\'s IP entries and not sent' },
  // Beyond the original (see the README).
  { long: 'alpn', key: 'alpn', valueName: 'p1,p2', help: 'offer these ALPN protocols; the one agreed is reported as SSL_ALPN_PROTOCOL' },
  { long: 'pin', key: 'pin', repeatable: true, valueName: 'SHA256:hex', help: 'repeatable: the server\'s leaf certificate must hash to one of these, even with --no-verify-cert' },
  { long: 'min-protocol', key: 'minProtocol', valueName: 'version', help: 'lowest TLS version accepted: TLSv1, TLSv1.1, TLSv1.2 or TLSv1.3; default TLSv1.2 (TLSv1 when --max-protocol is below TLSv1.2)' },
  { long: 'max-protocol', key: 'maxProtocol', valueName: 'version', help: 'highest TLS version offered, from the same list; default TLSv1.3' },
  { long: 'groups', key: 'groups', valueName: 'g1:g2', help: 'key exchange groups to offer, in order (OpenSSL names, e.g. X25519MLKEM768:X25519); the one agreed is reported as SSL_KEX_GROUP' },
];

/** -Z/-z of the programs that start a prog (s6-tlsc, s6-tlsclient). */
export const programFlags: OptionTable['flags'] = [
  { short: 'Z', long: 'keep-tls-environment', key: 'keepTlsConfig', value: true, help: 'prog keeps CADIR, CAFILE, CERTFILE, KEYFILE, TLS_UID and TLS_GID in its environment' },
  { short: 'z', long: 'clean-tls-environment', key: 'keepTlsConfig', value: false, help: 'they are removed from it; default' },
];

export const tlscIoOptionTable: OptionTable = {
  flags: sessionFlags,
  args: [
    ...sessionArgs,
    { short: 'd', long: 'notification-fd', key: 'notif', help: 'after the handshake, write the connection report to descriptor notif, then close it; 0: none' },
    { long: 'cleartext-input-fd', key: 'inputFd', help: 'read cleartext from this descriptor instead of stdin (default 0)' },
    { long: 'cleartext-output-fd', key: 'outputFd', help: 'write cleartext to this descriptor instead of stdout (default 1)' },
  ],
};

/** How the server is named: a DNS name (sent as SNI) or an IP literal (never sent). */
export type ServerName = { kind: 'dns'; name: string } | { kind: 'ip'; address: string };

/** What the tunnel needs to know: no argv, no environment. */
export interface SessionPolicy {
  /** ALPN protocols to offer (--alpn) */
  alpnProtocols?: string[];
  /** accepted leaf hashes, lowercase hex of SHA-256 (--pin) */
  pins?: string[];
  minVersion?: SecureVersion;
  maxVersion?: SecureVersion;
  /** key exchange groups to offer, best first (--groups); the library's default list when absent */
  groups?: string[];
  /** -S: close_notify on local EOF even before TLS 1.3 */
  closeNotify: boolean;
  /** -J: a peer EOF without close_notify is fatal */
  enforceCloseNotify: boolean;
  /**
   * --no-shutdown: on local EOF send neither close_notify nor FIN; wait for
   * the server's end, deliver it, then close. For servers (nginx) that take a
   * half-close as the client giving up.
   */
  noShutdown?: boolean;
  /** 0 means no limit */
  handshakeTimeoutMs: number;
  servername?: ServerName;
  verify: boolean;
}

export type TrustSource = { kind: 'dir'; path: string } | { kind: 'file'; path: string };

/** What every program of the family needs before it has a connection. */
export interface EngineConfig extends SessionPolicy {
  verbosity: number;
  trust: TrustSource;
  clientCert?: { certFile: string; keyFile: string };
  /** present only when running as root */
  drop?: { uid: number; gid: number };
  /** SSLKEYLOGFILE: where to append NSS key-log lines, if set */
  keyLogFile?: string;
}

export interface RunConfig extends EngineConfig {
  fdr: number;
  fdw: number;
  notificationFd?: number;
  /** the cleartext side: stdin and stdout unless told otherwise */
  inputFd: number;
  outputFd: number;
}

export type Environment = Readonly<Record<string, string | undefined>>;

export function unsignedOption(values: Record<string, string[]>, key: string, label: string, fallback: number): number {
  const text = values[key]?.[0];
  if (text === undefined) return fallback;
  const n = parseUnsigned(text);
  if (n === undefined) throw new UsageError(`${label} must be an unsigned integer`);
  return n;
}

/**
 * An IP literal, in any of its written forms ("::1", "[::1]", "127.0.0.1.",
 * "[127.0.0.1]."), is matched as an address and never sent as SNI (RFC 6066
 * section 3 allows host names only). A name whose last label is numeric
 * ("127.1", "0x7f.1", "2130706433", "127.000.0.1") is not a host name
 * (RFC 1123 section 2.1) but what some parsers read as an IPv4 address: it
 * is refused rather than guessed at.
 */
export function parseServerName(text: string): ServerName {
  // SNI carries a host name without its trailing dot (RFC 6066, section 3).
  const undotted = text.endsWith('.') ? text.slice(0, -1) : text;
  const unbracketed = undotted.startsWith('[') && undotted.endsWith(']') ? undotted.slice(1, -1) : undotted;
  if (isIP(unbracketed)) return { kind: 'ip', address: unbracketed };
  const name = undotted;
  if (name.length === 0 || name.length > 253 || !/^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/.test(name)) {
    throw new UsageError(`invalid servername: ${JSON.stringify(text)}`);
  }
  if (/(^|\.)([0-9]+|0x[0-9a-f]*)$/i.test(name)) {
    throw new UsageError(`invalid servername: ${JSON.stringify(text)} (not a host name, and not an IP address in standard form)`);
  }
  return { kind: 'dns', name };
}

// The value checks below serve the command line and the library alike, so
// that a bad value is a usage error (100) with the same words either way.

export const PROTOCOLS: readonly SecureVersion[] = ['TLSv1', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3'];

export function protocolVersion(text: string, label: string): SecureVersion {
  const version = PROTOCOLS.find((p) => p === text);
  if (!version) throw new UsageError(`${label} must be one of ${PROTOCOLS.join(', ')}`);
  return version;
}

export function checkProtocolRange(minVersion: SecureVersion | undefined, maxVersion: SecureVersion | undefined, minLabel: string, maxLabel: string): void {
  if (minVersion && maxVersion && PROTOCOLS.indexOf(minVersion) > PROTOCOLS.indexOf(maxVersion)) {
    throw new UsageError(`${minLabel} must not be above ${maxLabel}`);
  }
}

/** RFC 7301: each name is 1 to 255 bytes. */
export function isAlpnName(name: string): boolean {
  return name.length > 0 && Buffer.byteLength(name) <= 255;
}

/** OpenSSL's group list syntax: names separated by colons (OpenSSL 3.5 adds "?", "*" and "/"). */
export function isGroupName(name: string): boolean {
  return /^[A-Za-z0-9_?*/-]+$/.test(name);
}

/** The hex digest of "SHA256:<64 hex digits>", lower case, or undefined. */
export function pinDigest(pin: string): string | undefined {
  const m = /^SHA256:([0-9a-fA-F]{64})$/.exec(pin);
  return m ? m[1].toLowerCase() : undefined;
}

function protocolOption(values: Record<string, string[]>, key: string, label: string): SecureVersion | undefined {
  const text = values[key]?.[0];
  return text === undefined ? undefined : protocolVersion(text, label);
}

function alpnOption(values: Record<string, string[]>): string[] | undefined {
  const text = values.alpn?.[0];
  if (text === undefined) return undefined;
  const protocols = text.split(',');
  if (!protocols.every(isAlpnName)) throw new UsageError('alpn must be a comma-separated list of protocol names');
  return protocols;
}

function groupsOption(values: Record<string, string[]>): string[] | undefined {
  const text = values.groups?.[0];
  if (text === undefined) return undefined;
  const groups = text.split(':');
  if (!groups.every(isGroupName)) {
    throw new UsageError('groups must be a colon-separated list of group names (e.g. X25519MLKEM768:X25519)');
  }
  return groups;
}

function pinOption(values: Record<string, string[]>): string[] | undefined {
  const pins = values.pin;
  if (!pins) return undefined;
  return pins.map((pin) => {
    const digest = pinDigest(pin);
    if (!digest) throw new UsageError(`invalid pin: ${JSON.stringify(pin)} (SHA256: and 64 hex digits)`);
    return digest;
  });
}

/** The policy options every program of the family shares. */
export function sessionPolicyFrom(flags: Record<string, boolean>, values: Record<string, string[]>): SessionPolicy {
  const servername = values.servername?.[0];
  const minVersion = protocolOption(values, 'minProtocol', 'min-protocol');
  const maxVersion = protocolOption(values, 'maxProtocol', 'max-protocol');
  checkProtocolRange(minVersion, maxVersion, 'min-protocol', 'max-protocol');
  return {
    alpnProtocols: alpnOption(values),
    pins: pinOption(values),
    minVersion,
    maxVersion,
    groups: groupsOption(values),
    closeNotify: flags.closeNotify ?? false,
    enforceCloseNotify: flags.enforceCloseNotify ?? false,
    noShutdown: flags.noShutdown ?? false,
    handshakeTimeoutMs: unsignedOption(values, 'kimeout', 'kimeout', 0),
    servername: servername === undefined ? undefined : parseServerName(servername),
    verify: flags.verify ?? true,
  };
}

export function trustSourceFrom(env: Environment): TrustSource {
  if (env.CADIR) return { kind: 'dir', path: env.CADIR };
  if (env.CAFILE) return { kind: 'file', path: env.CAFILE };
  throw new UsageError('CADIR or CAFILE not set', true);
}

export function clientCertFrom(env: Environment): { certFile: string; keyFile: string } {
  if (!env.CERTFILE) throw new UsageError('CERTFILE not set', true);
  if (!env.KEYFILE) throw new UsageError('KEYFILE not set', true);
  return { certFile: env.CERTFILE, keyFile: env.KEYFILE };
}

/**
 * TLS_UID and TLS_GID matter only to root, and only together: a uid alone
 * would keep gid 0 and root's supplementary groups (the C original keeps
 * them), a gid alone would leave the program running as root. Node cannot
 * look up another user's primary group in the passwd database (NSS), so
 * instead of guessing one, a lone variable is a usage error (0 alone asks
 * for no change and gets none). Unset or empty means "not set".
 */
export function privilegeDropFrom(env: Environment, isRoot: boolean): { uid: number; gid: number } | undefined {
  if (!isRoot) return undefined;
  const read = (name: string): number | undefined => {
    const text = env[name];
    if (text === undefined || text === '') return undefined;
    const n = parseUnsigned(text);
    if (n === undefined) throw new UsageError(`invalid $${name}`, true);
    return n;
  };
  const gid = read('TLS_GID');
  const uid = read('TLS_UID');
  // 0 alone asks for no change, and gets none.
  if ((uid ?? 0) === 0 && (gid ?? 0) === 0 && (uid === undefined || gid === undefined)) return undefined;
  if (gid === undefined) throw new UsageError("TLS_UID is set without TLS_GID: set both (a uid alone would keep root's groups)", true);
  if (uid === undefined) throw new UsageError('TLS_GID is set without TLS_UID: set both (a gid alone would keep running as root)', true);
  return { uid, gid };
}

/**
 * The shared part of every program's configuration: policy options, then
 * the environment, in the C original's order (trust anchors, client
 * certificate, privileges).
 */
export function engineConfigFrom(
  flags: Record<string, boolean>,
  values: Record<string, string[]>,
  env: Environment,
  isRoot: boolean,
): EngineConfig {
  const policy = sessionPolicyFrom(flags, values);
  return {
    ...policy,
    verbosity: unsignedOption(values, 'verbosity', 'verbosity', 1),
    trust: trustSourceFrom(env),
    clientCert: flags.clientCert ? clientCertFrom(env) : undefined,
    drop: privilegeDropFrom(env, isRoot),
    keyLogFile: env.SSLKEYLOGFILE || undefined,
  };
}

export function configFromArgv(argv: readonly string[], env: Environment, isRoot: boolean): RunConfig {
  const { flags, values, operands } = parseOptions(argv, tlscIoOptionTable);
  if (operands.length < 2) throw new UsageError(operands.length ? 'missing fdw' : 'missing fdr and fdw');
  const notif = unsignedOption(values, 'notif', 'notification-fd', 0);
  const fdr = parseUnsigned(operands[0]);
  const fdw = parseUnsigned(operands[1]);
  if (fdr === undefined || fdw === undefined) throw new UsageError('fdr and fdw must be unsigned integers');
  const inputFd = unsignedOption(values, 'inputFd', 'cleartext-input-fd', 0);
  const outputFd = unsignedOption(values, 'outputFd', 'cleartext-output-fd', 1);
  // The report must not land in the cleartext or the ciphertext stream.
  if (notif !== 0 && (notif === outputFd || notif === inputFd || notif === fdr || notif === fdw)) {
    throw new UsageError(`notification-fd ${notif} is stdout, fdr or fdw: the report would go into the data stream`);
  }
  return {
    ...engineConfigFrom(flags, values, env, isRoot),
    fdr,
    fdw,
    // As in the C original, -d 0 means no notification.
    notificationFd: notif === 0 ? undefined : notif,
    inputFd,
    outputFd,
  };
}

/** -6 rfd and -7 wfd of the programs that start a prog on the network's descriptors. */
export function progNetworkFds(values: Record<string, string[]>): { rfd: number; wfd: number } {
  const rfd = unsignedOption(values, 'rfd', 'rfd', 6);
  const wfd = unsignedOption(values, 'wfd', 'wfd', 7);
  if (rfd < 3 || wfd < 3 || rfd === wfd) throw new UsageError('rfd and wfd must be 3 or more, and different');
  return { rfd, wfd };
}
