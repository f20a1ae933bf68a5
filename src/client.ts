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
import { EXIT_OK, EXIT_SYSTEM, FatalError } from './errors';
import type { ConnectionReport } from './report';

export interface TlsClientOptions {
  /** the network: a connected socket, or descriptor numbers as s6-tlsc-io takes them */
  network: { socket: Socket } | { fdr: number; fdw: number };
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

/** Runs one tunnel to its end. Never rejects: failures come back as an outcome. */
export async function runTlsClient(options: TlsClientOptions): Promise<TunnelOutcome> {
  let report: ConnectionReport | undefined;
  try {
    const trust: TrustSource = 'cadir' in options.trust ? { kind: 'dir', path: options.trust.cadir } : { kind: 'file', path: options.trust.cafile };
    const creds = loadCredentials(trust, options.clientCert);
    const secureContext = buildSecureContext(creds, options);
    const network: NetworkSide = 'socket' in options.network
      ? { kind: 'socket', socket: options.network.socket }
      : networkFromFds(options.network.fdr, options.network.fdw);
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
    if (err instanceof FatalError) return { exitCode: err.exitCode, reason: err.message, report };
    return { exitCode: EXIT_SYSTEM, reason: err instanceof Error ? err.message : String(err), report };
  }
}
