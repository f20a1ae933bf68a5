// The library entry of the server side, symmetrical to runTlsClient: one
// connection, given as a socket or descriptors, answered as s6-tlsd-io
// answers it, with the same outcome type. For Node programs that accept
// connections themselves and want the engine's TLS on each.

import { Socket } from 'net';
import type { Readable, Writable } from 'stream';
import { isAlpnName, isGroupName, TrustSource } from '../cli/config';
import { networkFromFds } from '../engine/network';
import type { ConnectionReport } from '../engine/report';
import type { LogLevel, NetworkSide } from '../engine/tunnel';
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
import { namedKeyPairs, ClientCertPolicy, KeyPairFiles, NamedKeyPair, ServerConfig } from './config';
import { serverRole } from './keypairs';

/** Where the client's connection is: a socket of the caller's, or descriptors (read, write). */
export type TlsServerNetwork = { socket: Socket } | { fdr: number; fdw: number };

export interface TlsServerOptions {
  network: TlsServerNetwork;
  /** the application's side */
  cleartext: { input: Readable; output: Writable };
  /** KEYFILE/CERTFILE: the key pair served (not needed when sniLevel is 2 or more) */
  keyPair?: { certFile: string; keyFile: string };
  /** KEYFILE:name/CERTFILE:name: pairs chosen by the client's SNI; name may be "*.domain" */
  namedPairs?: { name: string; certFile: string; keyFile: string }[];
  /** -k: 0 (default) the plain pair only; 1 the named pairs, the plain pair as fallback; 2 the named pairs only */
  sniLevel?: number;
  /** -Y ('optional') or -y ('required'); default 'none' */
  clientCert?: ClientCertPolicy;
  /** anchors for client certificates, needed with clientCert */
  trust?: { cadir: string } | { cafile: string };
  /** -S */
  closeNotify?: boolean;
  /** -J */
  enforceCloseNotify?: boolean;
  /** --no-shutdown */
  noShutdown?: boolean;
  /** -K, in milliseconds; 0 or absent: no limit */
  handshakeTimeoutMs?: number;
  /** the protocols this server speaks, best first */
  alpnProtocols?: string[];
  /** key exchange groups to accept, best first */
  groups?: string[];
  /** the connection report, once the handshake is done */
  onHandshake?: (report: ConnectionReport) => void;
  log?: (level: LogLevel, message: string) => void;
}

const isPair = (v: unknown): boolean => isObject(v) && isPath(v.certFile) && isPath(v.keyFile);

function checkNetwork(network: unknown): TlsServerNetwork {
  if (isObject(network) && 'socket' in network) {
    if (!(network.socket instanceof Socket)) throw usage('network.socket must be a net.Socket');
    return { socket: network.socket };
  }
  if (isObject(network) && ('fdr' in network || 'fdw' in network)) {
    if (!isFd(network.fdr)) throw usage('network.fdr must be a descriptor number');
    if (!isFd(network.fdw)) throw usage('network.fdw must be a descriptor number');
    return { fdr: network.fdr as number, fdw: network.fdw as number };
  }
  throw usage('network must be { socket } or { fdr, fdw }');
}

/** Every option checked before the connection is touched, as the server programs check theirs. */
function checkOptions(options: unknown): { network: TlsServerNetwork; config: ServerConfig } {
  if (!isObject(options)) throw usage('options must be an object');
  const network = checkNetwork(options.network);
  const { cleartext } = options;
  if (!isObject(cleartext)) throw usage('cleartext must be { input, output }');
  const { input, output } = cleartext as Record<string, Record<string, unknown> | undefined>;
  if (!isObject(input) || !isFunction(input.on) || !isFunction(input.pause) || !isFunction(input.resume)) throw usage('cleartext.input must be a readable stream');
  if (!isObject(output) || !isFunction(output.on) || !isFunction(output.write) || !isFunction(output.end)) throw usage('cleartext.output must be a writable stream');
  const sniLevel = optional<number>(options, 'sniLevel', (v) => Number.isInteger(v) && (v as number) >= 0, 'an unsigned integer') ?? 0;
  const keyPair = optional<KeyPairFiles>(options, 'keyPair', isPair, '{ certFile: path, keyFile: path }');
  if (!keyPair && sniLevel < 2) throw usage('keyPair is needed unless sniLevel is 2 or more');
  const named = optional<NamedKeyPair[]>(options, 'namedPairs', (v) => Array.isArray(v) && v.every((p) => isPair(p) && typeof (p as NamedKeyPair).name === 'string'), 'an array of { name, certFile, keyFile }') ?? [];
  // The names follow the environment's rules: the same check as KEYFILE:name.
  const env: Record<string, string> = {};
  for (const p of named) Object.assign(env, { [`KEYFILE:${p.name}`]: p.keyFile, [`CERTFILE:${p.name}`]: p.certFile });
  const namedPairs = sniLevel >= 1 ? namedKeyPairs(env) : [];
  if (sniLevel >= 2 && namedPairs.length === 0) throw usage('namedPairs is needed when sniLevel is 2 or more');
  const clientCert = optional<ClientCertPolicy>(options, 'clientCert', (v) => v === 'none' || v === 'optional' || v === 'required', "'none', 'optional' or 'required'") ?? 'none';
  const { trust } = options;
  let trustSource: TrustSource | undefined;
  if (isObject(trust) && 'cadir' in trust && !('cafile' in trust) && isPath(trust.cadir)) trustSource = { kind: 'dir', path: trust.cadir as string };
  else if (isObject(trust) && 'cafile' in trust && !('cadir' in trust) && isPath(trust.cafile)) trustSource = { kind: 'file', path: trust.cafile as string };
  else if (trust !== undefined) throw usage('trust must be { cadir: path } or { cafile: path }');
  if (clientCert !== 'none' && !trustSource) throw usage('trust is needed with clientCert');
  for (const key of ['closeNotify', 'enforceCloseNotify', 'noShutdown']) optional(options, key, isBoolean, 'true or false');
  const handshakeTimeoutMs = optional<number>(options, 'handshakeTimeoutMs', isMs, 'an unsigned integer number of milliseconds (at most 4294967295)') ?? 0;
  const alpnProtocols = optional<string[]>(options, 'alpnProtocols', (v) => isStringArray(v, isAlpnName), 'an array of protocol names of 1 to 255 bytes');
  const groups = optional<string[]>(options, 'groups', (v) => isStringArray(v, isGroupName), "an array of group names (e.g. ['X25519MLKEM768', 'X25519'])");
  optional(options, 'onHandshake', isFunction, 'a function');
  optional(options, 'log', isFunction, 'a function');
  return {
    network,
    config: {
      alpnProtocols,
      groups,
      minVersion: 'TLSv1.2',
      maxVersion: 'TLSv1.3',
      closeNotify: options.closeNotify === true,
      enforceCloseNotify: options.enforceCloseNotify === true,
      noShutdown: options.noShutdown === true,
      handshakeTimeoutMs,
      verify: true,
      verbosity: 1,
      clientCert,
      trust: clientCert === 'none' ? undefined : trustSource,
      keyPair: sniLevel >= 2 ? undefined : keyPair && { certFile: keyPair.certFile, keyFile: keyPair.keyFile },
      namedPairs,
      sniLevel,
    },
  };
}

async function networkSide(network: TlsServerNetwork): Promise<NetworkSide> {
  if ('socket' in network) {
    await connected(network.socket);
    return { kind: 'socket', socket: network.socket };
  }
  return networkFromFds(network.fdr, network.fdw);
}

/**
 * Answers one client's handshake and runs the session to its end, as
 * s6-tlsd-io would; as runTlsClient, it never throws, and every failure comes
 * back as an outcome (src/engine/library-checks.ts runToOutcome).
 */
export function runTlsServer(options: TlsServerOptions): Promise<TunnelOutcome> {
  return runToOutcome(options, async (optionsValid) => {
    const { network: where, config } = checkOptions(options);
    optionsValid();
    const server = serverRole(config);
    const network = await networkSide(where);
    return {
      io: { network, cleartext: options.cleartext },
      options: { ...config, server },
      log: options.log,
      onHandshake: options.onHandshake,
    };
  });
}
