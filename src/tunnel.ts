// The engine: handshake with a deadline, the connection report, two pumps
// with backpressure, and the end-of-session policies of SPEC section 6. It
// knows nothing of argv, environment or descriptor numbers, so every program
// and the library API share it.

import { connect, ConnectionOptions, DetailedPeerCertificate, SecureContext, TLSSocket } from 'tls';
import type { Duplex, Readable, Writable } from 'stream';
import type { Socket } from 'net';
import { EXIT_SYSTEM, EXIT_TLS, FatalError, describeSystemError, isSystemError } from './errors';
import { RawLink } from './rawlink';
import { ConnectionReport, connectionReport } from './report';
import { describeTlsError, identityChecker } from './verify';
import type { TrustAnchors } from './anchors';
import type { SessionPolicy } from './config';

/** The network side: one socket (native TLS path), or two separate ends. */
export type NetworkSide =
  | { kind: 'socket'; socket: Socket }
  | { kind: 'split'; readable: Readable; writable: Writable; endWritable: (done: () => void) => void };

/** The application's side of the tunnel. */
export interface Cleartext {
  /** cleartext from the application */
  input: Readable;
  /** cleartext to the application */
  output: Writable;
  /** ends `output` so that the application sees EOF */
  endOutput?: (done: () => void) => void;
  /** names for messages */
  inputName?: string;
  outputName?: string;
}

export interface TunnelIo {
  network: NetworkSide;
  /**
   * The cleartext side, or a function that makes it once the handshake is
   * done (s6-tlsc starts its program only then). It may throw a FatalError.
   */
  cleartext: Cleartext | (() => Cleartext);
}

export type LogLevel = 'warning' | 'info' | 'debug';

export interface TunnelOptions extends SessionPolicy {
  secureContext: SecureContext;
  /** the anchors `secureContext` trusts, for the path checks after OpenSSL's (src/path.ts) */
  trustAnchors: TrustAnchors;
  /** ALPN protocols to offer, if any */
  alpnProtocols?: string[];
  /**
   * Called once the handshake is verified, before any byte reaches `output`.
   * May throw a FatalError (a notification that cannot be written).
   */
  onHandshake?: (report: ConnectionReport, socket: TLSSocket) => void;
  log?: (level: LogLevel, message: string) => void;
  /**
   * Runs after OpenSSL verified the chain, on the leaf with its chain; an
   * Error fails the handshake (exit 98) unless verification is off.
   */
  extraCheck?: (cert: DetailedPeerCertificate) => Error | undefined;
  /**
   * After the remote end, how long pending writes to the network may make no
   * progress before they are given up (default DRAIN_IDLE_MS).
   */
  drainIdleMs?: number;
  /** Called with the TLS socket before the handshake starts (e.g. to log keys). */
  onSocket?: (socket: TLSSocket) => void;
  /** Called once the write side is shut down after a local EOF, everything before it flushed. */
  onWriteSideClosed?: () => void;
}

/** See TunnelOptions.drainIdleMs. */
export const DRAIN_IDLE_MS = 5000;

/** Node 20 has no public "EOF pushed" flag; readableEnded only says 'end' was emitted. */
function readableHasEnded(stream: Readable): boolean {
  const state = (stream as unknown as { _readableState?: { ended?: boolean } })._readableState;
  return stream.readableEnded || !!state?.ended;
}

/**
 * Node destroys a socket whose write fails, and with it the read side and
 * whatever the kernel still holds for it. This hands write errors to
 * `onError` instead and lets the stream go on (later writes fail the same
 * way and are dropped), so the read side can be read to its end. It wraps
 * net.Socket's internal _writeGeneric (Node 18 to 22); where that is absent,
 * errors take Node's usual path (destroy), which the tunnel also handles.
 */
function divertWriteErrors(socket: Duplex, onError: (err: Error) => void): void {
  type WriteGeneric = (writev: boolean, data: unknown, encoding: string, cb: (err?: Error | null) => void) => unknown;
  const target = socket as unknown as { _writeGeneric?: WriteGeneric };
  const original = target._writeGeneric;
  if (typeof original !== 'function') return;
  target._writeGeneric = function (this: unknown, writev, data, encoding, cb) {
    return original.call(this, writev, data, encoding, (err?: Error | null) => {
      if (err && (err as NodeJS.ErrnoException).syscall === 'write') {
        onError(err);
        return cb();
      }
      cb(err);
    });
  };
}

export function runTunnel(io: TunnelIo, options: TunnelOptions): Promise<ConnectionReport> {
  return new Promise<ConnectionReport>((resolve, reject) => {
    const log = options.log ?? (() => undefined);
    let clear: Cleartext | undefined = typeof io.cleartext === 'function' ? undefined : io.cleartext;

    let settled = false;
    let handshakeDone = false;
    let report: ConnectionReport | undefined;
    let remoteEnded = false;
    let localEof = false;
    let writeSideClosed = false;
    let pendingWrites = 0;
    /** bytes read from input and not yet handed to the network's kernel */
    let pendingBytes = 0;
    let whenWritesDone: (() => void) | undefined;
    /** a network failure after the handshake, reported once what was decrypted is delivered */
    let failing: { code: number; message: string } | undefined;
    /** -J: fdr reached EOF while the TLS engine had not seen a close_notify */
    let truncated = false;

    // The transport TLS runs over: the socket itself when possible (fast,
    // native), else a JS link that can see the raw EOF and split descriptors.
    let link: RawLink | undefined;
    let transport: Duplex;
    const network = io.network;
    if (network.kind === 'socket' && !options.enforceCloseNotify) {
      transport = network.socket;
    } else {
      const ends =
        network.kind === 'socket'
          ? { readable: network.socket, writable: network.socket, endWritable: (done: () => void) => network.socket.end(done) }
          : network;
      link = new RawLink(ends.readable, ends.writable, ends.endWritable, () => {
        if (!readableHasEnded(tls)) truncated = true;
      });
      transport = link;
    }

    const sni = options.servername?.kind === 'dns' ? options.servername.name : undefined;
    const tls = connect({
      socket: transport,
      secureContext: options.secureContext,
      servername: sni,
      rejectUnauthorized: options.verify,
      checkServerIdentity: identityChecker(options.servername, options.trustAnchors, options.extraCheck),
      ALPNProtocols: options.alpnProtocols,
      allowHalfOpen: true,
    } as ConnectionOptions);
    options.onSocket?.(tls);
    // A failed write to the network must not stop the read side: what the
    // server sent before resetting the connection is still to be delivered.
    const onWriteError = (err: Error): void => {
      if (settled || failing) return;
      if (!handshakeDone) return fail(EXIT_TLS, describeTlsError(err, 'handshake'));
      if (remoteEnded) {
        if (pendingBytes > 0) log('warning', `${pendingBytes} bytes from ${clear?.inputName ?? 'stdin'} not sent: the server closed the connection`);
        pendingBytes = 0;
        return;
      }
      failAfterDelivery(EXIT_SYSTEM, `unable to write to the network: ${describeSystemError(err)}`, true);
    };
    if (!link) divertWriteErrors(tls, onWriteError);
    else if (network.kind === 'socket') divertWriteErrors(network.socket, onWriteError);

    const timer =
      options.handshakeTimeoutMs > 0
        ? setTimeout(() => fail(EXIT_TLS, `handshake timed out after ${options.handshakeTimeoutMs} ms`), options.handshakeTimeoutMs)
        : undefined;

    function settle(): void {
      settled = true;
      if (timer) clearTimeout(timer);
      if (drainTimer) clearTimeout(drainTimer);
      clear?.input.pause();
      tls.destroy();
    }

    function fail(code: number, message: string): void {
      if (settled) return;
      settle();
      if (failureTimer) clearTimeout(failureTimer);
      reject(new FatalError(code, message));
    }

    function failWith(err: unknown): void {
      if (err instanceof FatalError) fail(err.exitCode, err.message);
      else fail(EXIT_SYSTEM, String(err));
    }

    tls.on('secureConnect', () => {
      // Node emits it again when the server asks to renegotiate, even though
      // the request is refused (SSL_OP_NO_RENEGOTIATION): one handshake, one
      // notification, one pair of pumps.
      if (settled || handshakeDone) return;
      if (timer) clearTimeout(timer);
      handshakeDone = true;
      // With verification off Node ignores checkServerIdentity's verdict;
      // an extra check (pins) is still required then.
      const extra = options.verify ? undefined : options.extraCheck?.(tls.getPeerCertificate(true));
      if (extra) return fail(EXIT_TLS, describeTlsError(extra, 'handshake'));
      report = connectionReport(tls, sni);
      log('info', `connected: ${report.protocol}, ${report.cipher}, peer ${report.peerCertSubject ?? '(no certificate)'}`);
      try {
        options.onHandshake?.(report, tls);
        if (!clear) clear = (io.cleartext as () => Cleartext)();
      } catch (err) {
        return failWith(err);
      }
      startPumps(clear);
    });

    tls.on('error', (err: Error) => {
      if (settled) return;
      if (failing) return finishFailure();
      if (!handshakeDone) return fail(EXIT_TLS, describeTlsError(err, 'handshake'));
      if (remoteEnded) {
        // The server is gone; what it sent has been delivered. What it did
        // not take from us is lost, as SPEC 6 allows once it has closed: say so.
        log('debug', `after the remote end: ${describeTlsError(err, 'session')}`);
        if (pendingBytes > 0) log('warning', `${pendingBytes} bytes from ${clear?.inputName ?? 'stdin'} not sent: the server closed the connection`);
        pendingBytes = 0;
        return;
      }
      if (isSystemError(err)) return failAfterDelivery(EXIT_SYSTEM, networkFailure(err));
      failAfterDelivery(EXIT_TLS, describeTlsError(err, 'session'));
    });

    // A network failure in the session: the connection is over, but every
    // byte decrypted before it (some may still sit in the TLS socket's
    // buffer, held back by a slow output) reaches the output and the output
    // is ended, then the program fails with the first cause. After a write
    // error (the server reset the connection while we were sending), what the
    // server sent before its reset may still wait in the kernel: the read
    // side is read to its end first (at most DRAIN_IDLE_MS without data).
    function failAfterDelivery(code: number, message: string, readSideOpen = false): void {
      if (settled || failing) return;
      failing = { code, message };
      if (!clear) return fail(code, message);
      clear.input.pause();
      if (readSideOpen && !tls.destroyed && !readableHasEnded(tls)) {
        log('debug', `${message}: reading what the server sent before`);
        return armFailureTimer();
      }
      finishFailure();
    }

    let failureFinishing = false;
    let failureTimer: NodeJS.Timeout | undefined;
    function armFailureTimer(): void {
      if (failureTimer) clearTimeout(failureTimer);
      failureTimer = setTimeout(() => (tls.isPaused() ? armFailureTimer() : finishFailure()), options.drainIdleMs ?? DRAIN_IDLE_MS);
      failureTimer.unref();
    }

    function finishFailure(): void {
      if (settled || failureFinishing || !failing || !clear) return;
      failureFinishing = true;
      if (failureTimer) clearTimeout(failureTimer);
      const { code, message } = failing;
      const { output, endOutput = (done: () => void) => output.end(done) } = clear;
      // What the TLS socket still buffers goes out too. An errored stream
      // emits no more 'data', but read() still returns what it holds.
      tls.off('data', onNetworkData);
      for (let chunk: Buffer | null; (chunk = tls.read()) !== null; ) output.write(chunk);
      endOutput(() => fail(code, message));
    }

    tls.on('end', onRemoteEnd);
    tls.on('close', () => {
      if (failing) return finishFailure();
      if (settled) return;
      if (!handshakeDone) return fail(EXIT_TLS, closedDuringHandshake());
      if (!remoteEnded) fail(EXIT_SYSTEM, 'the network connection closed unexpectedly');
    });

    function onNetworkData(chunk: Buffer): void {
      if (failureTimer && !failureFinishing) armFailureTimer();
      if (!(clear as Cleartext).output.write(chunk)) tls.pause();
    }

    function startPumps({ input, output, inputName = 'stdin', outputName = 'stdout' }: Cleartext): void {
      // network -> output
      tls.on('data', onNetworkData);
      output.on('drain', () => tls.resume());
      output.on('error', (err) =>
        failing ? fail(failing.code, failing.message) : fail(EXIT_SYSTEM, `unable to write to ${outputName}: ${describeSystemError(err)}`),
      );

      // input -> network
      input.on('data', (chunk: Buffer) => {
        if (remoteEnded || failing) return;
        pendingWrites++;
        pendingBytes += chunk.length;
        if (!tls.write(chunk, (err?: Error | null) => onWritten(chunk.length, err))) input.pause();
      });
      tls.on('drain', () => {
        if (!remoteEnded && !failing) input.resume();
      });
      const onLocalEof = (): void => {
        localEof = true;
        log('debug', `EOF on ${inputName}`);
        maybeCloseWriteSide();
      };
      input.on('end', onLocalEof);
      input.on('error', (err) => fail(EXIT_SYSTEM, `unable to read from ${inputName}: ${describeSystemError(err)}`));
      // An input made before the handshake may have met its EOF already (an
      // empty stdin): libuv streams emit 'end' then, with nobody listening.
      if (input.readableEnded) onLocalEof();
      input.resume();
    }

    function onWritten(bytes: number, err?: Error | null): void {
      pendingWrites--;
      if (!err) pendingBytes -= bytes;
      if (whenWritesDone && pendingWrites > 0) return armDrainTimer();
      if (pendingWrites > 0) return;
      if (whenWritesDone) whenWritesDone();
      maybeCloseWriteSide();
    }

    // Local EOF, once everything read has been encrypted and handed to the
    // kernel: close_notify first in TLS 1.3 or with -S, then shutdown; before
    // TLS 1.3 with -s, shut down the TCP write side without close_notify.
    function maybeCloseWriteSide(): void {
      if (!localEof || pendingWrites > 0 || writeSideClosed || remoteEnded || settled) return;
      writeSideClosed = true;
      const closed = (): void => options.onWriteSideClosed?.();
      // An empty write first: its callback comes once the TLS engine's
      // pending output (the client's last handshake flight, when stdin ends
      // at once) has gone to the network; a shutdown before that cuts it,
      // and the server sees an EOF during its handshake.
      tls.write(Buffer.alloc(0), () => {
        if (settled || remoteEnded) return;
        if (tls.getProtocol() === 'TLSv1.3' || options.closeNotify) {
          log('debug', 'sending close_notify and shutting down the write side');
          tls.end(closed);
        } else {
          log('debug', 'shutting down the write side without close_notify');
          if (link) link.endRaw(closed);
          else if (network.kind === 'socket') network.socket.end(closed);
        }
      });
    }

    function networkFailure(err: Error): string {
      const direction = (err as NodeJS.ErrnoException).syscall === 'write' ? 'write to' : 'read from';
      return `unable to ${direction} the network: ${describeSystemError(err)}`;
    }

    // Over the JS link a reset reaches TLS as an EOF (see RawLink.readError).
    function closedDuringHandshake(): string {
      return link?.readError ? describeTlsError(link.readError, 'handshake') : 'connection closed by the server during the handshake';
    }

    function onRemoteEnd(): void {
      if (failing) return finishFailure();
      if (settled) return;
      if (handshakeDone && link?.readError) return failAfterDelivery(EXIT_SYSTEM, networkFailure(link.readError));
      if (!handshakeDone) return fail(EXIT_TLS, closedDuringHandshake());
      remoteEnded = true;
      const { input, output, endOutput = (done: () => void) => output.end(done) } = clear as Cleartext;
      input.pause();
      log('debug', truncated ? 'EOF from the network without close_notify' : 'end of the remote stream');
      // Every byte decrypted so far goes out first, then the application sees EOF.
      endOutput(() => {
        if (options.enforceCloseNotify && truncated) {
          return fail(EXIT_TLS, 'remote closed connection without a close_notify');
        }
        // Local data already read is sent before leaving.
        const finish = (): void => {
          if (settled) return;
          settle();
          resolve(report as ConnectionReport);
        };
        if (pendingWrites === 0) return finish();
        whenWritesDone = finish;
        armDrainTimer();
      });
    }

    // After the remote end, local data already read goes out first, but a
    // server that has ended its side may never read again: once the network
    // has taken nothing for DRAIN_IDLE_MS, the rest is given up (the server
    // has closed, so SPEC 6 allows it), with a warning saying how much.
    let drainTimer: NodeJS.Timeout | undefined;
    function armDrainTimer(): void {
      if (drainTimer) clearTimeout(drainTimer);
      drainTimer = setTimeout(() => {
        if (settled) return;
        log('warning', `${pendingBytes} bytes from ${clear?.inputName ?? 'stdin'} not sent: the server stopped reading after its end`);
        whenWritesDone?.();
      }, options.drainIdleMs ?? DRAIN_IDLE_MS);
      drainTimer.unref();
    }
  });
}
