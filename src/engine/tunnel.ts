// The engine: Node's TLS socket over the network link, the two pumps with
// backpressure, and the session machine (src/engine/session.ts) that decides how it
// ends. This file only translates: each Node listener dispatches one event,
// and each action the machine returns is carried out here. It knows nothing
// of argv, environment or descriptor numbers, so every program and the
// library API share it.

import { connect, ConnectionOptions, createServer, DetailedPeerCertificate, SecureContext, SecureContextOptions, Server as TlsServer, TLSSocket, TlsOptions } from 'tls';
import type { Readable, Writable } from 'stream';
import { EXIT_SYSTEM, EXIT_TLS, FatalError, describeSystemError, isSystemError } from '../base/errors';
import { NetworkLink, NetworkSide } from './transport';
import { startTimer, Timer } from '../base/timer';
import { STREAM_BUFFER } from './fds';
import { minorGc, onEndOfData, shareServerContext } from '../base/node-internals';
import { ConnectionReport, connectionReport } from './report';
import { describeTlsError, identityChecker, receivedAlert } from '../trust/verify';
import { AlertKeys } from './alert';
import type { TrustAnchors } from '../trust/anchors';
import { Failure, initialState, RemoteEnd, SessionAction, SessionEvent, SessionState, step } from './session';
import type { SessionPolicy } from '../cli/config';

export type { NetworkSide } from './transport';

/** The application's side of the tunnel. */
export interface Cleartext {
  /** cleartext from the application */
  input: Readable;
  /** cleartext to the application */
  output: Writable;
  /** ends `output` so that the application sees EOF; `err` if the last writes failed */
  endOutput?: (done: (err?: Error | null) => void) => void;
  /** names for messages */
  inputName?: string;
  outputName?: string;
  /** called once the session is over: closes what was opened for it */
  release?: () => void;
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

/**
 * The server's side of the handshake (s6-tlsd-io and friends): what differs
 * from the client's; the session after it is the same.
 */
export interface ServerRole {
  /** the default context: its settings, key pair and anchors, as createSecureContext takes them */
  context: SecureContextOptions;
  /** the same, built once, for every connection of a long-lived server (s6-tlsserver) */
  shared?: SecureContext;
  /** the context for the name a client sent as SNI; undefined keeps the default */
  contextFor?: (servername: string) => SecureContext | undefined;
  /** ask for a client certificate ('optional', -Y) or require one ('required', -y) */
  clientCert: 'none' | 'optional' | 'required';
}

export interface TunnelOptions extends SessionPolicy {
  /** the client's context (unused when `server` is set) */
  secureContext?: SecureContext;
  /** the anchors `secureContext` trusts, for the path checks after OpenSSL's (src/trust/path.ts) */
  trustAnchors?: TrustAnchors;
  /** answer the handshake as a server instead of starting it as a client */
  server?: ServerRole;
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
   * How long pending data may make no progress once the session is ending
   * (local data after the server's end, the server's data after a write
   * failure) before it is given up (default DRAIN_IDLE_MS).
   */
  drainIdleMs?: number;
  /**
   * What is left of handshakeTimeoutMs when the handshake starts, when a
   * STARTTLS prelude spent the rest of the one -K budget (default: all of it).
   */
  handshakeTimeLeftMs?: number;
  /** The latest our end goes out after a local EOF (default END_BOUND_MS). */
  endBoundMs?: number;
  /** Called with the TLS socket before the handshake starts (client only). */
  onSocket?: (socket: TLSSocket) => void;
  /** Gets every key-log line (SSLKEYLOGFILE), in either role. */
  keyLog?: (line: Buffer) => void;
  /** Called once the write side is shut down after a local EOF, everything before it flushed. */
  onWriteSideClosed?: () => void;
}

/** See TunnelOptions.drainIdleMs. */
export const DRAIN_IDLE_MS = 5000;

/**
 * After a local EOF and once the answer has started, our end waits until
 * nothing has come from the server for at least this long (see session.ts upFlushed): time for an answer to the last
 * request to start, and then a pause in it. Against nginx serving 4 MiB
 * (npm run interop): 15/15 on TLS 1.2 and 1.3 and 32 MiB 5/5, where sending
 * our end at once completed 2-14/15 on TLS 1.2, 0-5/15 on 1.3 (its close then
 * becomes a reset) and 32 MiB 0/5; under heavy load 20 ms still gave 28/30
 * (50 and 100 ms: 30/30, at 2.5 and 5 times the cost). The cost: a server
 * that waits for our end after its answer gets it 20 ms later.
 */
export const QUIET_MS = 20;

/**
 * The latest our end goes out after a local EOF, however long the server
 * keeps sending (see session.ts upFlushed): a server that streams until the
 * client ends (a log follower) is never quiet. An answer still coming when
 * it passes may be cut by a server like nginx. Measured with two CPU hogs
 * beside on a busy two-core machine, nginx's 32 MiB over loopback took 2 to
 * 3.6 s with --no-shutdown: a 1 s bound cut 3 of 3 on TLS 1.2; 3 s completed
 * 4 of 5 (on 1.2 and 1.3). A streaming session ends a little after it.
 */
/**
 * The quiet wait adapts to the machine: it is at least this many times the
 * longest pause seen between two pieces of the server's answer since the
 * local EOF. On a loaded machine a server that is not scheduled pauses
 * mid-answer for longer than QUIET_MS; such a pause must not pass for the
 * end of the answer.
 */
const QUIET_GAP_FACTOR = 3;
/** ... but never more than this: one long stall must not hold every end back for seconds. */
const QUIET_GAP_CAP_MS = 200;

/**
 * Until the server's first byte after the local EOF, the quiet wait is this
 * long: on a loaded machine a server takes more than QUIET_MS to start its
 * answer, and our end must not reach it before the answer starts.
 */
const ANSWER_START_MS = 100;
// Measured with yes(1) hogging a core beside a busy machine (npm run interop,
// nginx 4 MiB, GET via tcpclient, TLS 1.2): 20 ms then 3x the gaps: 9/15
// (6 cut); 100 ms until the answer starts: 15/15.

export const END_BOUND_MS = 3000;

/** The longest delay Node's timers take (2^31-1 ms): the server's own handshake limit, out of the way of -K. */
const MAX_HANDSHAKE_TIMER_MS = 2 ** 31 - 1;

/** Cleartext moved between two minor collections (see node-internals minorGc). */
const GC_EVERY_BYTES = 1024 * 1024;

export function runTunnel(io: TunnelIo, options: TunnelOptions): Promise<ConnectionReport> {
  return new Promise<ConnectionReport>((resolve, reject) => {
    const log = options.log ?? (() => undefined);
    const policy = {
      closeNotify: options.closeNotify,
      enforceCloseNotify: options.enforceCloseNotify,
      noShutdown: options.noShutdown ?? false,
      handshakeTimeoutMs: options.handshakeTimeoutMs,
      sendsAfterPeerEnd: !!options.server && !options.closeNotify,
      endsAtOnce: !!options.server,
    };
    let state: SessionState = initialState(policy);
    let clear: Cleartext | undefined = typeof io.cleartext === 'function' ? undefined : io.cleartext;
    let report: ConnectionReport | undefined;
    let timer: Timer | undefined;
    let endBoundTimer: Timer | undefined;
    /** while our end waits: when the server's data last came, and the longest pause in it */
    let lastArrival = 0;
    let longestGap = 0;
    let answerStarted = false;
    const quietMs = (): number =>
      Math.min(answerStarted ? Math.max(QUIET_MS, Math.min(QUIET_GAP_CAP_MS, QUIET_GAP_FACTOR * longestGap)) : ANSWER_START_MS, options.endBoundMs ?? END_BOUND_MS);
    /** writes handed to TLS and not yet acknowledged, and their bytes */
    let pendingWrites = 0;
    let pendingBytes = 0;
    /** after a network write failure, acknowledgements no longer mean "sent" */
    let writesBroken = false;
    /** TLS was handed its end before the raw end was: a close_notify */
    let closeNotifySeen = false;
    const collect = minorGc();
    let movedSinceGc = 0;
    const moved = (bytes: number): void => {
      movedSinceGc += bytes;
      if (movedSinceGc < GC_EVERY_BYTES) return;
      movedSinceGc = 0;
      collect();
    };

    // Events raised while an action runs wait their turn: one step at a time.
    const queue: SessionEvent[] = [];
    let stepping = false;
    function dispatch(event: SessionEvent): void {
      queue.push(event);
      if (stepping) return;
      stepping = true;
      try {
        for (let next; (next = queue.shift()); ) {
          const transition = step(policy, state, next);
          state = transition.state;
          for (const action of transition.actions) perform(action);
        }
      } finally {
        stepping = false;
      }
    }

    const link = new NetworkLink(io.network, {
      onWriteError: (err) => {
        writesBroken = true;
        if (state.phase === 'handshaking') dispatch({ type: 'handshakeFailed', failure: tlsFailure(err, 'handshake') });
        else dispatch({ type: 'networkWriteFailed', message: `unable to write to the network: ${describeSystemError(err)}` });
      },
    });
    const peer = options.server ? 'client' : 'server';
    const closedDuringHandshake: Failure = { code: EXIT_TLS, message: `connection closed by the ${peer} during the handshake` };
    /** the TLS socket: the client's at once, the server's once its handshake is done */
    let tls!: TLSSocket;
    const sni = options.servername?.kind === 'dns' ? options.servername.name : undefined;
    let alertKeys: AlertKeys | undefined;
    if (options.server) accept(options.server);
    else {
      tls = connect({
        socket: link,
        secureContext: options.secureContext,
        servername: sni,
        rejectUnauthorized: options.verify,
        checkServerIdentity: identityChecker(options.servername, options.trustAnchors as TrustAnchors, options.extraCheck),
        ALPNProtocols: options.alpnProtocols,
        allowHalfOpen: true,
        // With Node's 16 KiB default, every 64 KiB chunk from the input made
        // write() return false, and the input was paused and resumed for 4137
        // of 4146 chunks of a 256 MiB upload (readStop/readStart, epoll_ctl).
        highWaterMark: STREAM_BUFFER,
      } as ConnectionOptions);
      // A refused certificate is answered with a fatal alert (src/engine/alert.ts).
      alertKeys = new AlertKeys(tls, link);
      if (options.keyLog) tls.on('keylog', options.keyLog);
      options.onSocket?.(tls);
      watch(tls);
      tls.on('secureConnect', () => {
        // Node emits it again when the server asks to renegotiate, though the
        // request is refused (SSL_OP_NO_RENEGOTIATION): one handshake only.
        if (state.phase !== 'handshaking') return;
        // With verification off Node ignores checkServerIdentity's verdict;
        // an extra check (pins) is still required then.
        const extra = options.verify ? undefined : options.extraCheck?.(tls.getPeerCertificate(true));
        if (extra) {
          alertKeys?.refuse(extra);
          return dispatch({ type: 'handshakeFailed', failure: tlsFailure(extra, 'handshake') });
        }
        alertKeys?.forget();
        secured(sni);
      });
    }
    if (state.deadline === 'handshake') arm(Math.max(1, options.handshakeTimeLeftMs ?? options.handshakeTimeoutMs));

    /**
     * The server's handshake, through a tls.Server that is handed our link
     * as a connection (the documented way to serve any duplex stream): it
     * verifies a client certificate as Node's servers do, and hands over the
     * TLS socket once the handshake is done. Our -K is the only handshake
     * limit: the server's own is set beyond reach.
     */
    function accept(role: ServerRole): void {
      const serverFor = (context: SecureContextOptions): TlsServer => createServer({
        ...context,
        requestCert: role.clientCert !== 'none',
        // -y: OpenSSL refuses a client without a certificate (with an
        // alert) and Node a client whose certificate fails verification.
        rejectUnauthorized: role.clientCert === 'required',
        SNICallback: role.contextFor ? (name: string, cb: (err: Error | null, ctx?: SecureContext) => void) => cb(null, role.contextFor?.(name)) : undefined,
        ALPNProtocols: options.alpnProtocols,
        handshakeTimeout: MAX_HANDSHAKE_TIMER_MS,
      } as TlsOptions);
      // A long-lived server's one context, when Node lets us hand it over
      // (src/base/node-internals.ts); otherwise one built for this connection.
      let server = role.shared ? serverFor({ ca: [] }) : undefined;
      if (!server || !shareServerContext(server, role.shared as SecureContext)) server = serverFor(role.context);
      if (options.keyLog) server.on('keylog', options.keyLog);
      server.on('tlsClientError', (err: Error, socket: TLSSocket) => {
        // Refused by verification (-y): Node closes without an error of its own.
        const refused = socket.authorizationError ? verificationError(String(socket.authorizationError)) : undefined;
        const cause = refused ?? (link.rawEnd?.how === 'reset' ? link.rawEnd.error : err);
        socket.destroy();
        if (state.phase === 'handshaking') dispatch({ type: 'handshakeFailed', failure: tlsFailure(cause, 'handshake', peer) });
      });
      server.on('secureConnection', (socket: TLSSocket) => {
        tls = socket;
        // TLS 1.3 allows no renegotiation; on 1.2 a client's request is
        // refused by OpenSSL (SSL_OP_NO_RENEGOTIATION in the context).
        watch(socket);
        if (state.phase !== 'handshaking') return;
        const cert = socket.getPeerCertificate();
        const presented = !!cert && !!cert.raw;
        if (role.clientCert !== 'none' && presented && !socket.authorized) {
          return dispatch({ type: 'handshakeFailed', failure: tlsFailure(verificationError(String(socket.authorizationError)), 'handshake', peer) });
        }
        if (role.clientCert === 'required' && !presented) {
          return dispatch({ type: 'handshakeFailed', failure: { code: EXIT_TLS, message: 'the client sent no certificate' } });
        }
        secured(typeof socket.servername === 'string' && socket.servername !== '' ? socket.servername : undefined);
      });
      // A client that ends its side (or resets) before the handshake is done
      // can never finish it; Node's server says nothing when that end comes
      // before any byte (its TLS socket just ends, and nothing is left to
      // wait for). Node's own words, when it has some, come first.
      link.once('end', () =>
        setImmediate(() => {
          if (state.phase !== 'handshaking') return;
          const failure = link.rawEnd?.how === 'reset' ? tlsFailure(link.rawEnd.error, 'handshake', peer) : closedDuringHandshake;
          dispatch({ type: 'handshakeFailed', failure });
        }),
      );
      server.emit('connection', link);
    }

    /** The handshake is done (and verified): the report, then the session. */
    function secured(servername: string | undefined): void {
      report = connectionReport(tls, servername);
      const group = report.kexGroup ? `, ${report.kexGroup}` : '';
      log('info', `connected: ${report.protocol}, ${report.cipher}${group}, peer ${report.peerCertSubject ?? '(no certificate)'}${options.server && servername ? `, SNI ${servername}` : ''}`);
      try {
        options.onHandshake?.(report, tls);
        if (!clear) clear = (io.cleartext as () => Cleartext)();
      } catch (err) {
        return dispatch({ type: 'handshakeFailed', failure: asFailure(err) });
      }
      dispatch({ type: 'verified', tls13: tls.getProtocol() === 'TLSv1.3' });
    }

    /** The TLS socket's own events, as machine events. */
    function watch(socket: TLSSocket): void {
      onEndOfData(socket, () => {
        if (!link.drained) closeNotifySeen = true;
      });

      socket.on('error', (err: Error) => {
        if (state.phase === 'handshaking') {
          // Over the link a reset during the handshake reaches TLS as an EOF.
          const cause = link.rawEnd?.how === 'reset' ? link.rawEnd.error : err;
          alertKeys?.refuse(cause);
          return dispatch({ type: 'handshakeFailed', failure: tlsFailure(cause, 'handshake', peer) });
        }
        dispatch({ type: 'networkFailed', failure: tlsFailure(err, 'session', peer), alert: receivedAlert(err) });
      });

      socket.on('end', () => {
        if (state.phase === 'handshaking') return dispatch({ type: 'handshakeFailed', failure: closedDuringHandshake });
        const raw = link.rawEnd;
        const how: RemoteEnd = closeNotifySeen || !raw ? 'close_notify' : raw.how;
        const message = raw?.how === 'reset' ? `unable to read from the network: ${describeSystemError(raw.error)}` : undefined;
        dispatch({ type: 'networkEnded', how, message });
      });

      socket.on('close', () => {
        if (state.phase === 'handshaking') return dispatch({ type: 'handshakeFailed', failure: closedDuringHandshake });
        dispatch({ type: 'networkFailed', failure: { code: EXIT_SYSTEM, message: 'the network connection closed unexpectedly' } });
      });
    }

    function perform(action: SessionAction): void {
      switch (action.type) {
        case 'armDeadline':
          return arm(action.deadline === 'quiet' ? quietMs() : options.drainIdleMs ?? DRAIN_IDLE_MS);
        case 'disarmDeadline':
          timer?.cancel();
          timer = undefined;
          return;
        case 'armEndBound':
          lastArrival = performance.now();
          endBoundTimer?.cancel();
          endBoundTimer = startTimer(options.endBoundMs ?? END_BOUND_MS, () => {
            endBoundTimer = undefined;
            dispatch({ type: 'endBound' });
          });
          return;
        case 'disarmEndBound':
          endBoundTimer?.cancel();
          endBoundTimer = undefined;
          return;
        case 'startPumps':
          return startPumps(clear as Cleartext);
        case 'stopInput':
          clear?.input.pause();
          return;
        case 'flushUp':
          // An empty write: its callback comes once everything written before
          // it (and TLS's own pending output, the client's last handshake
          // flight when the input ends at once) has gone to the network.
          tls.write(Buffer.alloc(0), () => dispatch({ type: 'upFlushed' }));
          return;
        case 'shutdownUp': {
          const done = (): void => {
            options.onWriteSideClosed?.();
            dispatch({ type: 'upShutDone' });
          };
          if (action.closeNotify) {
            log('debug', 'sending close_notify and shutting down the write side');
            tls.end(done);
          } else {
            log('debug', 'shutting down the write side without close_notify');
            link.endRaw(done);
          }
          return;
        }
        case 'closeHeld':
          log('debug', 'the server has ended: sending close_notify and closing');
          tls.end(() => dispatch({ type: 'upShutDone' }));
          return;
        case 'endOutput':
          return endOutput(clear as Cleartext);
        case 'warn':
          return log('warning', action.message);
        case 'warnUnsent':
          if (pendingBytes > 0) log('warning', `${pendingBytes} bytes from ${clear?.inputName ?? 'stdin'} not sent: ${action.reason}`);
          return;
        case 'debug':
          return log('debug', action.message);
        case 'finish':
          return finish();
      }
    }

    function arm(ms: number): void {
      timer?.cancel();
      timer = startTimer(ms, () => {
        timer = undefined;
        dispatch({ type: 'deadline' });
      });
    }

    function startPumps({ input, output, inputName = 'stdin', outputName = 'stdout' }: Cleartext): void {
      // network -> output
      tls.on('data', (chunk: Buffer) => {
        moved(chunk.length);
        if (state.up === 'quieting') {
          const now = performance.now();
          if (answerStarted) longestGap = Math.max(longestGap, now - lastArrival);
          answerStarted = true;
          lastArrival = now;
        }
        if (state.deadline !== 'none') dispatch({ type: 'progress' });
        else if (state.up === 'shut' && !state.answerInProgress) dispatch({ type: 'received' });
        if (!output.write(chunk)) {
          tls.pause();
          dispatch({ type: 'outputBlocked', blocked: true });
        }
      });
      output.on('drain', () => {
        dispatch({ type: 'outputBlocked', blocked: false });
        // the time our reader held the data back is no pause of the server's
        lastArrival = performance.now();
        if (state.deadline !== 'none') dispatch({ type: 'progress' });
        tls.resume();
      });
      output.on('error', (err) => dispatch({ type: 'outputFailed', message: `unable to write to ${outputName}: ${describeSystemError(err)}` }));

      // input -> network
      // Chunks read in one turn of the event loop (libuv reads a pipe up to
      // 32 times while it has data) go to TLS as one write: each write
      // through the JS transport costs a round of the event loop.
      let corked = false;
      const uncork = (): void => {
        corked = false;
        tls.uncork();
      };
      input.on('data', (chunk: Buffer) => {
        if (state.up !== 'open') return;
        if (!corked) {
          corked = true;
          tls.cork();
          process.nextTick(uncork);
        }
        const bytes = chunk.length;
        moved(bytes);
        pendingBytes += bytes;
        if (pendingWrites++ === 0) dispatch({ type: 'writesPending', pending: true });
        const more = tls.write(chunk, () => {
          if (!writesBroken) pendingBytes -= bytes;
          if (state.deadline === 'drain') dispatch({ type: 'progress' });
          if (--pendingWrites === 0) dispatch({ type: 'writesPending', pending: false });
        });
        if (!more) input.pause();
      });
      tls.on('drain', () => {
        if (state.up === 'open') input.resume();
      });
      input.on('end', () => {
        log('debug', `EOF on ${inputName}`);
        dispatch({ type: 'inputEnded' });
      });
      input.on('error', (err) => dispatch({ type: 'inputFailed', message: `unable to read from ${inputName}: ${describeSystemError(err)}` }));
      // An input made before the handshake may have met its EOF already (an
      // empty stdin): libuv streams emit 'end' then, with nobody listening.
      if (input.readableEnded) dispatch({ type: 'inputEnded' });
      else input.resume();
    }

    // Every byte decrypted so far goes out, then the application sees EOF.
    function endOutput({ output, endOutput: end = (done) => output.end(done) }: Cleartext): void {
      // An errored TLS stream emits no more 'data', but read() still returns
      // what it holds (held back by a slow output).
      for (let chunk: Buffer | null; (chunk = tls.read()) !== null; ) output.write(chunk);
      end((err) => dispatch(err ? { type: 'outputFailed', message: `unable to write to ${clear?.outputName ?? 'stdout'}: ${describeSystemError(err)}` } : { type: 'outputEnded' }));
    }

    function finish(): void {
      timer?.cancel();
      endBoundTimer?.cancel();
      clear?.input.pause();
      tls?.destroy();
      link.destroy();
      clear?.release?.();
      if (state.failure) reject(new FatalError(state.failure.code, state.failure.message));
      else resolve(report as ConnectionReport);
    }
  });
}

/** Node's word for a failed verification, as an error describeTlsError knows. */
function verificationError(code: string): Error {
  return Object.assign(new Error(code), { code });
}

function tlsFailure(err: unknown, during: 'handshake' | 'session', peer: 'server' | 'client' = 'server'): Failure {
  // A system error during the session (not a TLS one) is 111; during the handshake everything is 98.
  if (during === 'session' && isSystemError(err)) {
    return { code: EXIT_SYSTEM, message: `unable to use the network: ${describeSystemError(err)}` };
  }
  return { code: EXIT_TLS, message: describeTlsError(err, during, peer) };
}

function asFailure(err: unknown): Failure {
  if (err instanceof FatalError) return { code: err.exitCode, message: err.message };
  return { code: EXIT_SYSTEM, message: err instanceof Error ? err.message : String(err) };
}
