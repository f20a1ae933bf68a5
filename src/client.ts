// The library entry for Node programs that embed the engine: the same
// options as the command line, over given streams or descriptors, and a
// promise of the outcome instead of an exit.

import type { Readable, Writable } from 'stream';
import type { Socket } from 'net';
import type { SecureVersion } from 'tls';
import { buildSecureContext, loadCredentials } from './credentials';
import { TrustAnchors } from './anchors';
import { parseServerName, TrustSource } from './config';
import { networkFromFds } from './network';
import { pinCheck } from './pins';
import { runTunnel, LogLevel, NetworkSide } from './tunnel';
import { connectTcp } from './connect';
import { EXIT_OK, EXIT_SYSTEM, FatalError, describeConnectError } from './errors';
import type { ConnectionReport } from './report';

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

export interface TunnelOutcome {
  /** what s6-tlsc-io would exit with: 0, 96, 97, 98, 100 or 111 */
  exitCode: number;
  /** why it failed, in the words of the fatal line */
  reason?: string;
  /** present once the handshake succeeded */
  report?: ConnectionReport;
}

/** A socket still connecting: its outcome, as an exit code and words, never an 'error' event nobody hears. */
function connected(socket: Socket): Promise<void> {
  // One that will never carry a byte would leave the tunnel waiting for ever.
  if (socket.destroyed) return Promise.reject(new FatalError(EXIT_SYSTEM, 'unable to use the socket: it is closed'));
  if (!socket.connecting && socket.pending) return Promise.reject(new FatalError(EXIT_SYSTEM, 'unable to use the socket: it is not connected'));
  if (!socket.connecting) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException & { address?: string; port?: number; hostname?: string }): void => {
      socket.off('connect', onConnect);
      reject(new FatalError(EXIT_SYSTEM, describeConnectError(err.hostname ?? err.address ?? 'the server', err.port, err)));
    };
    const onConnect = (): void => {
      socket.off('error', onError);
      resolve();
    };
    socket.once('error', onError);
    socket.once('connect', onConnect);
  });
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
 * Runs one tunnel to its end. Never rejects and never leaves an error to be
 * thrown later: every failure, the connection's too, comes back as an outcome.
 */
export async function runTlsClient(options: TlsClientOptions): Promise<TunnelOutcome> {
  let report: ConnectionReport | undefined;
  const given = 'socket' in options.network ? options.network.socket : undefined;
  // Whatever happens to the caller's socket once we have it, even after the
  // outcome, is ours to report: an unheard 'error' would kill the process.
  given?.on('error', () => undefined);
  try {
    const trust: TrustSource = 'cadir' in options.trust ? { kind: 'dir', path: options.trust.cadir } : { kind: 'file', path: options.trust.cafile };
    const creds = loadCredentials(trust, options.clientCert);
    const secureContext = buildSecureContext(creds, options);
    const network = await networkSide(options.network);
    const pins = options.pins?.map((p) => p.replace(/^SHA256:/i, '').toLowerCase());
    await runTunnel(
      { network, cleartext: options.cleartext },
      {
        secureContext,
        trustAnchors: TrustAnchors.fromCredentials(creds),
        servername: options.servername === undefined ? undefined : parseServerName(options.servername),
        closeNotify: options.closeNotify ?? false,
        enforceCloseNotify: options.enforceCloseNotify ?? false,
        noShutdown: options.noShutdown ?? false,
        handshakeTimeoutMs: options.handshakeTimeoutMs ?? 0,
        verify: options.verify ?? true,
        alpnProtocols: options.alpnProtocols,
        extraCheck: pins ? pinCheck(pins) : undefined,
        log: options.log,
        onHandshake: (r) => {
          report = r;
          options.onHandshake?.(r);
        },
      },
    );
    return { exitCode: EXIT_OK, report };
  } catch (err) {
    given?.destroy();
    if (err instanceof FatalError) return { exitCode: err.exitCode, reason: err.message, report };
    return { exitCode: EXIT_SYSTEM, reason: err instanceof Error ? err.message : String(err), report };
  }
}
