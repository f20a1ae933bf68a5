// What both library entries (runTlsClient, runTlsServer) share: their
// outcome, and the checks of options given from plain JavaScript, so that a
// bad value is a usage error (100) with the option's name, as on the command
// line, and never a throw.

import { Socket } from 'net';
import { closeSync } from 'fs';
import { EXIT_OK, EXIT_SYSTEM, EXIT_USAGE, FatalError, describeConnectError } from '../base/errors';
import type { ConnectionReport } from './report';
import { runTunnel, LogLevel, TunnelIo, TunnelOptions } from './tunnel';

export interface TunnelOutcome {
  /** what s6-tlsc-io would exit with: 0, 96, 97, 98, 100 or 111 */
  exitCode: number;
  /** why it failed, in the words of the fatal line */
  reason?: string;
  /** present once the handshake succeeded */
  report?: ConnectionReport;
}

/** A socket still connecting: its outcome, as an exit code and words, never an 'error' event nobody hears. */
export function connected(socket: Socket): Promise<void> {
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

/** Numbers of milliseconds: what the command line's unsigned options take (up to 2^32-1). */
export const MAX_MS = 0xffffffff;

export const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null;
export const usage = (message: string): FatalError => new FatalError(EXIT_USAGE, message);

export function optional<T>(o: Record<string, unknown>, key: string, ok: (v: unknown) => boolean, what: string): T | undefined {
  const v = o[key];
  if (v === undefined) return undefined;
  if (!ok(v)) throw usage(`${key} must be ${what}`);
  return v as T;
}

export const isBoolean = (v: unknown): boolean => typeof v === 'boolean';
export const isFunction = (v: unknown): boolean => typeof v === 'function';
export const isPath = (v: unknown): boolean => typeof v === 'string' && v.length > 0 && !v.includes('\0');
export const isMs = (v: unknown): boolean => Number.isInteger(v) && (v as number) >= 0 && (v as number) <= MAX_MS;
export const isFd = (v: unknown): boolean => Number.isInteger(v) && (v as number) >= 0 && (v as number) <= 0x7fffffff;
export const isStringArray = (v: unknown, each: (s: string) => boolean): boolean => Array.isArray(v) && v.every((s) => typeof s === 'string' && each(s));

/** The caller's socket or descriptors, whatever shape the options have, to close on a failure. */
export function givenNetwork(options: unknown): { socket?: Socket; fds: number[] } {
  const network = isObject(options) ? options.network : undefined;
  if (!isObject(network)) return { fds: [] };
  if (network.socket instanceof Socket) return { socket: network.socket, fds: [] };
  return { fds: [network.fdr, network.fdw].filter((fd, i, all): fd is number => isFd(fd) && all.indexOf(fd) === i) };
}

/** Before the tunnel has them, the caller's socket or descriptors are closed here. */
export function closeGiven(given: { socket?: Socket; fds: number[] }): void {
  given.socket?.destroy();
  for (const fd of given.fds) {
    try {
      closeSync(fd);
    } catch {
      // not open, or already closed: nothing of ours to release
    }
  }
}

/** A caller's logger that throws must not take the tunnel down: its words are lost, not the session. */
export function safeLog(log: ((level: LogLevel, message: string) => void) | undefined): ((level: LogLevel, message: string) => void) | undefined {
  if (!log) return undefined;
  return (level, message) => {
    try {
      log(level, message);
    } catch {
      // its words are lost, not the session
    }
  };
}

/** A failure as an outcome: the engine's code and words, or 111 for anything else. */
export function failedOutcome(err: unknown, report: ConnectionReport | undefined): TunnelOutcome {
  if (err instanceof FatalError) return { exitCode: err.exitCode, reason: err.message, report };
  return { exitCode: EXIT_SYSTEM, reason: err instanceof Error ? err.message : String(err), report };
}

/** What a library entry hands the common frame once its options are valid and its network is ready. */
export interface PreparedTunnel {
  io: TunnelIo;
  options: TunnelOptions;
  log?: (level: LogLevel, message: string) => void;
  onHandshake?: (report: ConnectionReport) => void;
}

/**
 * The frame of runTlsClient and runTlsServer: never throws, never rejects and
 * never leaves an error to be thrown later. `prepare` checks the options
 * (calling `optionsValid` once they are), reads what it needs and readies
 * the network; any failure, its own or the tunnel's, comes back as an
 * outcome. A socket given is the tunnel's from the call on: on any failure it
 * is destroyed. Descriptors are the tunnel's once the options are found
 * valid: a later failure closes them; with bad options they are left alone
 * (a wrong number may well be one this process uses for something else).
 */
export async function runToOutcome(given: unknown, prepare: (optionsValid: () => void) => Promise<PreparedTunnel>): Promise<TunnelOutcome> {
  let report: ConnectionReport | undefined;
  const network = givenNetwork(given);
  // Whatever happens to the caller's socket once we have it, even after the
  // outcome, is ours to report: an unheard 'error' would kill the process.
  network.socket?.on('error', () => undefined);
  let tunnelStarted = false;
  let valid = false;
  try {
    const ready = await prepare(() => (valid = true));
    tunnelStarted = true;
    await runTunnel(ready.io, {
      ...ready.options,
      log: safeLog(ready.log),
      onHandshake: (r) => {
        report = r;
        ready.onHandshake?.(r);
      },
    });
    return { exitCode: EXIT_OK, report };
  } catch (err) {
    // runTunnel closes what it was given; before it, the network is closed here.
    if (!tunnelStarted) closeGiven(valid ? network : { socket: network.socket, fds: [] });
    network.socket?.destroy();
    return failedOutcome(err, report);
  }
}
