// The library entry for Node programs that embed the engine: the same
// options as the command line, over given streams or descriptors, and a
// promise of the outcome instead of an exit.

import type { Readable, Writable } from 'stream';
import { Socket } from 'net';
import type { SecureVersion } from 'tls';
import { buildSecureContext, loadCredentials } from '../trust/credentials';
import { TrustAnchors } from '../trust/anchors';
import { checkProtocolRange, isAlpnName, isGroupName, parseServerName, PROTOCOLS, ServerName, TrustSource } from '../cli/config';
import { networkFromFds } from '../engine/network';
import { pinCheck } from '../trust/pins';
import type { LogLevel, NetworkSide } from '../engine/tunnel';
import { connectTcp } from './connect';
import {
  connected,
  isBoolean,
  isFd,
  isFunction,
  isMs,
  isObject,
  isPath,
  isStringArray,
  optional,
  runToOutcome,
  TunnelOutcome,
  usage,
} from '../engine/library-checks';

export type { TunnelOutcome } from '../engine/library-checks';
import type { ConnectionReport } from '../engine/report';

/**
 * Where the ciphertext goes:
 * - `{ host, port }`: the library connects, as s6-tlsclient does (each
 *   address in turn; `family` 4 or 6 to restrict it, `timeoutMs` per attempt);
 * - `{ socket }`: a TCP socket of the caller's, connected or still connecting;
 * - `{ fdr, fdw }`: descriptor numbers, as s6-tlsc-io takes them.
 */
export type TlsClientNetwork =
  | { host: string; port: number; family?: 0 | 4 | 6; timeoutMs?: number }
  | { socket: Socket }
  | { fdr: number; fdw: number };

export interface TlsClientOptions {
  network: TlsClientNetwork;
  /** the application's side */
  cleartext: { input: Readable; output: Writable };
  /** trust anchors: a CADIR-style directory or a CAFILE-style bundle */
  trust: { cadir: string } | { cafile: string };
  /** client certificate and key files (PEM or DER), as -y with CERTFILE/KEYFILE */
  clientCert?: { certFile: string; keyFile: string };
  /** -k: a host name (SNI and name check) or an IP literal (IP check, no SNI) */
  servername?: string;
  /** -S */
  closeNotify?: boolean;
  /** -J */
  enforceCloseNotify?: boolean;
  /** --no-shutdown: on local EOF send nothing; wait for the server's end */
  noShutdown?: boolean;
  /** -K, in milliseconds; 0 or absent: no limit */
  handshakeTimeoutMs?: number;
  /** false: --no-verify-cert */
  verify?: boolean;
  alpnProtocols?: string[];
  /** accepted leaf hashes, "SHA256:<hex>" */
  pins?: string[];
  minVersion?: SecureVersion;
  maxVersion?: SecureVersion;
  /** key exchange groups to offer, best first, as --groups (e.g. ['X25519MLKEM768', 'X25519']) */
  groups?: string[];
  /** the connection report, once the handshake is verified */
  onHandshake?: (report: ConnectionReport) => void;
  log?: (level: LogLevel, message: string) => void;
}

type Checked = {
  network: TlsClientNetwork;
  trust: TrustSource;
  clientCert?: { certFile: string; keyFile: string };
  servername?: ServerName;
  pins?: string[];
};

function checkNetwork(network: unknown): TlsClientNetwork {
  if (!isObject(network)) throw usage('network must be { host, port }, { socket } or { fdr, fdw }');
  if ('socket' in network) {
    if (!(network.socket instanceof Socket)) throw usage('network.socket must be a net.Socket');
    return { socket: network.socket };
  }
  if ('host' in network) {
    if (typeof network.host !== 'string' || network.host.length === 0) throw usage('network.host must be a host name or an IP address');
    if (!Number.isInteger(network.port) || (network.port as number) < 1 || (network.port as number) > 65535) throw usage('network.port must be a port number, 1 to 65535');
    const family = optional<0 | 4 | 6>(network, 'family', (v) => v === 0 || v === 4 || v === 6, '0, 4 or 6');
    const timeoutMs = optional<number>(network, 'timeoutMs', isMs, 'an unsigned integer number of milliseconds (at most 4294967295)');
    return { host: network.host, port: network.port as number, family, timeoutMs };
  }
  if ('fdr' in network || 'fdw' in network) {
    if (!isFd(network.fdr)) throw usage('network.fdr must be a descriptor number');
    if (!isFd(network.fdw)) throw usage('network.fdw must be a descriptor number');
    return { fdr: network.fdr as number, fdw: network.fdw as number };
  }
  throw usage('network must be { host, port }, { socket } or { fdr, fdw }');
}

/**
 * Every option checked before anything is connected or adopted, with the
 * command line's exit code for a bad value (100) and the option's name.
 */
function checkOptions(options: unknown): Checked {
  if (!isObject(options)) throw usage('options must be an object');
  const network = checkNetwork(options.network);
  const { cleartext } = options;
  if (!isObject(cleartext)) throw usage('cleartext must be { input, output }');
  const { input, output } = cleartext as Record<string, Record<string, unknown> | undefined>;
  if (!isObject(input) || !isFunction(input.on) || !isFunction(input.pause) || !isFunction(input.resume)) throw usage('cleartext.input must be a readable stream');
  if (!isObject(output) || !isFunction(output.on) || !isFunction(output.write) || !isFunction(output.end)) throw usage('cleartext.output must be a writable stream');
  const { trust } = options;
  let trustSource: TrustSource;
  if (isObject(trust) && 'cadir' in trust && !('cafile' in trust) && isPath(trust.cadir)) trustSource = { kind: 'dir', path: trust.cadir as string };
  else if (isObject(trust) && 'cafile' in trust && !('cadir' in trust) && isPath(trust.cafile)) trustSource = { kind: 'file', path: trust.cafile as string };
  else throw usage('trust must be { cadir: path } or { cafile: path }');
  const clientCert = optional<{ certFile: string; keyFile: string }>(options, 'clientCert', (v) => isObject(v) && isPath(v.certFile) && isPath(v.keyFile), '{ certFile: path, keyFile: path }');
  const servername = optional<string>(options, 'servername', (v) => typeof v === 'string', 'a host name or an IP address');
  for (const key of ['closeNotify', 'enforceCloseNotify', 'noShutdown', 'verify']) optional(options, key, isBoolean, 'true or false');
  optional(options, 'handshakeTimeoutMs', isMs, 'an unsigned integer number of milliseconds (at most 4294967295)');
  optional(options, 'alpnProtocols', (v) => isStringArray(v, isAlpnName), 'an array of protocol names of 1 to 255 bytes');
  const pins = optional<string[]>(options, 'pins', (v) => isStringArray(v, (p) => /^(SHA256:)?[0-9a-f]{64}$/i.test(p)), 'an array of "SHA256:<64 hex digits>"');
  const versions = PROTOCOLS.join(', ');
  const minVersion = optional<SecureVersion>(options, 'minVersion', (v) => PROTOCOLS.includes(v as SecureVersion), `one of ${versions}`);
  const maxVersion = optional<SecureVersion>(options, 'maxVersion', (v) => PROTOCOLS.includes(v as SecureVersion), `one of ${versions}`);
  checkProtocolRange(minVersion, maxVersion, 'minVersion', 'maxVersion');
  optional(options, 'groups', (v) => isStringArray(v, isGroupName), 'an array of group names (e.g. [\'X25519MLKEM768\', \'X25519\'])');
  optional(options, 'onHandshake', isFunction, 'a function');
  optional(options, 'log', isFunction, 'a function');
  return {
    network,
    trust: trustSource,
    clientCert: clientCert && { certFile: clientCert.certFile, keyFile: clientCert.keyFile },
    servername: servername === undefined ? undefined : parseServerName(servername),
    pins: pins?.map((p) => p.replace(/^SHA256:/i, '').toLowerCase()),
  };
}

async function networkSide(network: TlsClientNetwork): Promise<NetworkSide> {
  if ('host' in network) {
    const socket = await connectTcp(network.host, network.port, { family: network.family ?? 0, timeoutMs: network.timeoutMs ?? 0, noDelay: true });
    return { kind: 'socket', socket };
  }
  if ('socket' in network) {
    await connected(network.socket);
    return { kind: 'socket', socket: network.socket };
  }
  return networkFromFds(network.fdr, network.fdw);
}

/**
 * Runs one tunnel to its end, as s6-tlsclient would: never throws, and every
 * failure, bad options and the connection's too, comes back as an outcome
 * (src/engine/library-checks.ts runToOutcome says what becomes of the network
 * given). With { host, port } and a bad option, no connection is made.
 */
export function runTlsClient(options: TlsClientOptions): Promise<TunnelOutcome> {
  return runToOutcome(options, async (optionsValid) => {
    const checked = checkOptions(options);
    optionsValid();
    const creds = loadCredentials(checked.trust, checked.clientCert);
    const secureContext = buildSecureContext(creds, options);
    const network = await networkSide(checked.network);
    return {
      io: { network, cleartext: options.cleartext },
      options: {
        secureContext,
        trustAnchors: TrustAnchors.fromCredentials(creds),
        servername: checked.servername,
        closeNotify: options.closeNotify ?? false,
        enforceCloseNotify: options.enforceCloseNotify ?? false,
        noShutdown: options.noShutdown ?? false,
        handshakeTimeoutMs: options.handshakeTimeoutMs ?? 0,
        verify: options.verify ?? true,
        alpnProtocols: options.alpnProtocols,
        extraCheck: checked.pins ? pinCheck(checked.pins) : undefined,
      },
      log: options.log,
      onHandshake: options.onHandshake,
    };
  });
}
