// The session as a state machine you can read: SPEC section 6 (how a session
// ends) as a table of (state, event) -> (next state, actions). It is pure: no
// streams, no timers, no I/O. src/engine/tunnel.ts turns Node's events into these
// events and carries the actions out, so every rule about ending, truncation
// and failures lives here, and is tested pair by pair without sockets.
//
// Only control events go through it. The bytes themselves flow between the
// streams with backpressure (src/engine/tunnel.ts); the machine hears about them
// only when it waits for them (the drain deadline).

import { EXIT_SYSTEM, EXIT_TLS } from '../base/errors';

/** The handshake, then the two directions, then the end. */
export type Phase = 'handshaking' | 'running' | 'done';

/**
 * Up: the application's data towards the server.
 * - open: input is read and encrypted
 * - flushing: input ended; waiting for everything read to reach the network
 * - quieting: input ended and flushed: our end waits until the server has
 *   been quiet for a moment, or at the latest until the end bound passes
 *   (see upFlushed)
 * - shut: our end was sent (close_notify and/or FIN)
 * - held: --no-shutdown: input ended, nothing sent, waiting for the server's end
 * - closing: --no-shutdown under -S, after the server's end: our close_notify is on its way
 * - abandoned: no more input is read (the server ended, or the network failed)
 */
export type UpState = 'open' | 'flushing' | 'quieting' | 'shut' | 'held' | 'closing' | 'abandoned';

/**
 * Down: the server's data towards the application.
 * - open: decrypted data is written to the output
 * - delivering: the network ended; what was decrypted is written, then the output is ended
 * - closed: the output was ended (or failed)
 */
export type DownState = 'open' | 'delivering' | 'closed';

/** How the server's side ended: a TLS close_notify, a bare TCP FIN (or pipe EOF), or a reset. */
export type RemoteEnd = 'close_notify' | 'fin' | 'reset';

/** What is waited for against a clock; one deadline at a time. */
export type Deadline = 'none' | 'handshake' | 'quiet' | 'drain';

export interface Failure {
  code: number;
  message: string;
}

export interface SessionPolicy {
  /** -S */
  closeNotify: boolean;
  /** -J */
  enforceCloseNotify: boolean;
  /** --no-shutdown */
  noShutdown: boolean;
  /** -K, for the words of a timeout (0: no handshake deadline) */
  handshakeTimeoutMs: number;
  /**
   * The server role under -s: the client's end closes only the client's
   * direction; prog's answer still goes out until prog ends, as the C
   * engine does (its loop runs while the local side is open). Under -S,
   * and for the client, the peer's end ends the session.
   */
  sendsAfterPeerEnd?: boolean;
  /**
   * The server role: our end goes out as soon as prog's output is flushed.
   * The quiet wait is the client's, for servers that cut their answer at
   * the client's end; prog's end is the end of the answer itself.
   */
  endsAtOnce?: boolean;
}

export interface SessionState {
  readonly phase: Phase;
  readonly up: UpState;
  readonly down: DownState;
  /** TLS 1.3 was negotiated: close_notify closes one direction only */
  readonly tls13: boolean;
  readonly remoteEnd?: RemoteEnd;
  /** the first failure: it decides the exit code and the fatal line */
  readonly failure?: Failure;
  /** writes handed to TLS whose network write has not completed */
  readonly writesPending: boolean;
  readonly deadline: Deadline;
  /** the end bound runs: a second clock, beside the quiet deadline (see upFlushed) */
  readonly endBound?: boolean;
  /**
   * The server was sending when our end went out (the bound sent it), or
   * sent more after it: its answer was in progress, and an end without
   * close_notify may have cut it.
   */
  readonly answerInProgress?: boolean;
  /** the output is full: the server's data waits for our reader, not the other way */
  readonly outputBlocked?: boolean;
}

export type SessionEvent =
  /** the handshake completed and every check passed */
  | { type: 'verified'; tls13: boolean }
  /** the handshake failed: alert, verification, EOF, reset, garbage (the words are the caller's) */
  | { type: 'handshakeFailed'; failure: Failure }
  /** the one deadline expired */
  | { type: 'deadline' }
  /** EOF on the input */
  | { type: 'inputEnded' }
  | { type: 'inputFailed'; message: string }
  /** everything read from the input has reached the network (after inputEnded) */
  | { type: 'upFlushed' }
  /** our end (shutdownUp or closeHeld) has been handed to the network */
  | { type: 'upShutDone' }
  /** writes to the network went from none pending to some, or back */
  | { type: 'writesPending'; pending: boolean }
  /** bytes moved while a quiet or drain deadline runs: the deadline starts again */
  | { type: 'progress' }
  /** the end bound passed: our end goes out now, whatever the server is sending */
  | { type: 'endBound' }
  /** the server sent data after our end went out */
  | { type: 'received' }
  /** the output stopped taking data (reading from the network paused), or took it again */
  | { type: 'outputBlocked'; blocked: boolean }
  | { type: 'networkWriteFailed'; message: string }
  /** the server's side ended, after every byte it sent was decrypted and handed to the output */
  | { type: 'networkEnded'; how: RemoteEnd; message?: string }
  /**
   * a TLS error (bad record, alert) or read error after the handshake;
   * `alert`: the server sent this fatal alert
   */
  | { type: 'networkFailed'; failure: Failure; alert?: string }
  | { type: 'outputEnded' }
  | { type: 'outputFailed'; message: string };

export type SessionAction =
  | { type: 'armDeadline'; deadline: Exclude<Deadline, 'none'> }
  | { type: 'disarmDeadline' }
  /** start the end bound's clock (it runs beside the one deadline) */
  | { type: 'armEndBound' }
  | { type: 'disarmEndBound' }
  /** write the report, make the cleartext side, start both pumps */
  | { type: 'startPumps' }
  /** stop reading the input for good */
  | { type: 'stopInput' }
  /** make sure everything written so far reaches the network, then report upFlushed */
  | { type: 'flushUp' }
  /** our end towards the server: close_notify then FIN, or FIN alone */
  | { type: 'shutdownUp'; closeNotify: boolean }
  /** --no-shutdown, after the server's end: close, with close_notify first under -S */
  | { type: 'closeHeld'; closeNotify: boolean }
  /** hand what TLS still holds to the output, then end it, then report outputEnded */
  | { type: 'endOutput' }
  | { type: 'warn'; message: string }
  | { type: 'warnUnsent'; reason: string }
  | { type: 'debug'; message: string }
  /** the session is over: succeed, or fail with state.failure */
  | { type: 'finish' };

export interface Transition {
  state: SessionState;
  actions: SessionAction[];
}

export function initialState(policy: SessionPolicy): SessionState {
  return {
    phase: 'handshaking',
    up: 'open',
    down: 'open',
    tls13: false,
    writesPending: false,
    deadline: policy.handshakeTimeoutMs > 0 ? 'handshake' : 'none',
  };
}

export const TRUNCATED = 'remote closed connection without a close_notify';
const HALF_CLOSE_ADVICE =
  ': its answer may be cut short (some servers take a half-close as the client giving up); --no-shutdown keeps the connection open until the server ends, and -J makes a missing close_notify fatal';
export const HALF_CLOSE_WARNING = `the server ended without close_notify while its answer was still coming after our half-close${HALF_CLOSE_ADVICE}`;
const ALERT_AFTER_HALF_CLOSE = 'the server answered our half-close with an alert';

const UNSENT_AFTER_END = 'the server closed the connection';
const UNSENT_STALLED = 'the server stopped reading after its end';

/**
 * One step of the session. Events that do not apply to the state (a late
 * callback after the end, a second EOF) change nothing: the table below is
 * total, so every Node callback can be dispatched without guards.
 */
export function step(policy: SessionPolicy, state: SessionState, event: SessionEvent): Transition {
  if (state.phase === 'done') return { state, actions: [] };
  if (state.phase === 'handshaking') return handshaking(policy, state, event);
  return running(policy, state, event);
}

function handshaking(policy: SessionPolicy, state: SessionState, event: SessionEvent): Transition {
  switch (event.type) {
    case 'verified':
      return {
        state: { ...state, phase: 'running', tls13: event.tls13, deadline: 'none' },
        actions: [...(state.deadline !== 'none' ? [{ type: 'disarmDeadline' } as const] : []), { type: 'startPumps' }],
      };
    case 'handshakeFailed':
      return fail(state, event.failure);
    case 'deadline':
      if (state.deadline !== 'handshake') return same(state);
      return fail(state, { code: EXIT_TLS, message: `handshake timed out after ${policy.handshakeTimeoutMs} ms` });
    case 'inputFailed':
      return fail(state, { code: EXIT_SYSTEM, message: event.message });
    case 'networkWriteFailed':
    case 'networkFailed':
    case 'networkEnded':
      // The caller reports these during the handshake as handshakeFailed, with TLS words.
      return same(state);
    default:
      // Input EOF before the handshake is seen again when the pumps start.
      return same(state);
  }
}

function running(policy: SessionPolicy, state: SessionState, event: SessionEvent): Transition {
  switch (event.type) {
    case 'verified':
    case 'handshakeFailed':
      return same(state);

    case 'inputEnded':
      if (state.up !== 'open') return same(state);
      return { state: { ...state, up: 'flushing' }, actions: [{ type: 'flushUp' }] };

    case 'upFlushed': {
      if (state.up !== 'flushing') return same(state);
      if (policy.noShutdown) {
        // The server role, the client's end delivered already: close now.
        if (state.down === 'closed' && !state.failure) return closeHeld(policy, { ...state, up: 'held' });
        return { state: { ...state, up: 'held' }, actions: [{ type: 'debug', message: 'EOF on the input: --no-shutdown, waiting for the server to end' }] };
      }
      // The peer has ended already, or we serve: nothing to wait for, our end goes out now.
      if (state.remoteEnd || policy.endsAtOnce) return shutdownUp(policy, state, false);
      // A server answering may take our end for the client giving up and
      // cut its answer (nginx does, as soon as it has to wait for the
      // network after our FIN, and on TLS 1.3 it never reads our close_notify,
      // so its close becomes a reset): our end waits until the server has
      // been quiet for a moment, long enough for an answer to start and for
      // it to pause. The server's own end makes our end unneeded. A server
      // that streams until the client ends is never quiet: the end bound
      // sends our end anyway, a fixed time after the local EOF.
      return {
        state: { ...state, up: 'quieting', deadline: 'quiet', endBound: true },
        actions: [
          { type: 'armDeadline', deadline: 'quiet' },
          { type: 'armEndBound' },
        ],
      };
    }

    case 'inputFailed':
      if (state.up !== 'open') return same(state);
      return fail(state, { code: EXIT_SYSTEM, message: event.message });

    case 'upShutDone':
      // Closing after --no-shutdown, or our end after the peer's (sendsAfterPeerEnd): both directions are over.
      if (state.up === 'closing' || (state.up === 'shut' && state.down === 'closed' && !state.failure)) return finish(state, []);
      return same(state);

    case 'writesPending': {
      const next = { ...state, writesPending: event.pending };
      if (event.pending) return { state: next, actions: [] };
      return settleIfDone(next, []);
    }

    case 'progress':
      if (state.deadline !== 'drain' && state.deadline !== 'quiet') return same(state);
      return { state, actions: [{ type: 'armDeadline', deadline: state.deadline }] };

    case 'endBound':
      if (!state.endBound) return same(state);
      if (state.up !== 'quieting') return same({ ...state, endBound: false });
      // The server was still sending: its answer is in progress as our end goes out.
      return shutdownUp(policy, { ...state, endBound: false, answerInProgress: true }, true);

    case 'outputBlocked':
      return same({ ...state, outputBlocked: event.blocked });

    case 'received':
      if (state.up !== 'shut' || state.answerInProgress || state.down !== 'open') return same(state);
      return same({ ...state, answerInProgress: true });

    case 'networkWriteFailed': {
      if (state.up === 'abandoned' && state.failure) return same(state);
      if (state.remoteEnd || state.down !== 'open') {
        // The server is gone and what it sent is being (or was) delivered;
        // what it did not take from us is lost, as SPEC 6 allows once it has closed.
        const next: SessionState = { ...state, up: 'abandoned', writesPending: false };
        return settleIfDone(next, [{ type: 'stopInput' }, { type: 'warnUnsent', reason: UNSENT_AFTER_END }]);
      }
      // The connection is broken, but what the server sent before may still
      // wait in the kernel: the read side is read to its end (while it makes
      // progress), delivered, then the failure is reported.
      return {
        state: { ...state, up: 'abandoned', writesPending: false, failure: { code: EXIT_SYSTEM, message: event.message }, deadline: 'drain', endBound: false },
        actions: [{ type: 'stopInput' }, ...(state.endBound ? [{ type: 'disarmEndBound' } as const] : []), { type: 'armDeadline', deadline: 'drain' }, { type: 'debug', message: `${event.message}: reading what the server sent before` }],
      };
    }

    case 'networkEnded':
      return networkEnded(policy, state, event.how, event.message);

    case 'networkFailed': {
      if (state.down !== 'open') return same(state);
      // An alert in answer to our bare FIN (OpenSSL 3 and GnuTLS servers send
      // one on TLS 1.2 once their answer is out): under -j, the end a FIN is.
      if (event.alert && !state.failure && !policy.enforceCloseNotify && state.up === 'shut' && !state.tls13 && !policy.closeNotify) {
        return networkEnded(policy, state, 'fin', undefined, event.alert);
      }
      const failure = state.failure ?? event.failure;
      const up: UpState = state.up === 'shut' ? 'shut' : 'abandoned';
      return {
        state: { ...state, failure, up, down: 'delivering', deadline: 'none', endBound: false },
        actions: [...disarm(state), ...(up === 'abandoned' ? [{ type: 'stopInput' } as const] : []), { type: 'endOutput' }],
      };
    }

    case 'outputEnded': {
      if (state.down !== 'delivering') return same(state);
      const next: SessionState = { ...state, down: 'closed' };
      if (next.failure) return finish(next, disarm(state));
      if (state.up === 'held') return closeHeld(policy, next);
      if (isSending(next.up)) {
        // sendsAfterPeerEnd: the way up runs on until the input ends and our end is out.
        return same(next);
      }
      if (next.writesPending) {
        // Local data already read still goes out, while the network takes it.
        return { state: { ...next, deadline: 'drain' }, actions: [{ type: 'armDeadline', deadline: 'drain' }] };
      }
      return finish(next, []);
    }

    case 'outputFailed': {
      if (state.down === 'closed') return same(state);
      // The reader went away (EPIPE) or the output is broken: nothing more can be delivered.
      return fail({ ...state, down: 'closed' }, { code: EXIT_SYSTEM, message: event.message });
    }

    case 'deadline': {
      if (state.deadline === 'quiet') {
        if (state.up !== 'quieting') return same({ ...state, deadline: 'none' });
        // Silence while our own reader holds the server's data back is not
        // the server being quiet: wait again.
        if (state.outputBlocked) return { state, actions: [{ type: 'armDeadline', deadline: 'quiet' }] };
        return shutdownUp(policy, { ...state, deadline: 'none' }, false);
      }
      if (state.deadline !== 'drain') return same(state);
      if (state.failure && state.down === 'open') {
        // After a write failure: the read side made no progress; deliver what we have.
        return { state: { ...state, down: 'delivering', deadline: 'none' }, actions: [{ type: 'endOutput' }] };
      }
      if (state.down === 'closed' && state.writesPending) {
        return finish({ ...state, up: 'abandoned', writesPending: false }, [{ type: 'warnUnsent', reason: UNSENT_STALLED }]);
      }
      return same(state);
    }
  }
}

/**
 * --no-shutdown, once the peer has ended and what it sent is delivered: close,
 * with a close_notify first under -S (waited for), else at once.
 */
function closeHeld(policy: SessionPolicy, state: SessionState): Transition {
  if (!policy.closeNotify) return finish(state, []);
  return { state: { ...state, up: 'closing' }, actions: [{ type: 'closeHeld', closeNotify: true }] };
}

function shutdownUp(policy: SessionPolicy, state: SessionState, byBound: boolean): Transition {
  // TLS 1.3: close_notify closes our direction only (RFC 8446 6.1), so it is
  // always sent; before 1.3 only under -S, else a bare FIN keeps duplex.
  const closeNotify = state.tls13 || policy.closeNotify;
  const actions: SessionAction[] = [];
  if (byBound) {
    // The quiet deadline is still armed: it has nothing left to decide.
    actions.push({ type: 'disarmDeadline' }, { type: 'debug', message: 'the server is still sending: our end goes out at the end bound' });
  } else if (state.endBound) {
    actions.push({ type: 'disarmEndBound' });
  }
  actions.push({ type: 'shutdownUp', closeNotify });
  return { state: { ...state, up: 'shut', endBound: false, deadline: 'none' }, actions };
}

function networkEnded(policy: SessionPolicy, state: SessionState, how: RemoteEnd, message?: string, alert?: string): Transition {
  if (state.down !== 'open') return same(state);
  const actions: SessionAction[] = [...disarm(state)];
  let failure = state.failure;
  if (!failure && how === 'reset') failure = { code: EXIT_SYSTEM, message: message ?? 'unable to read from the network: Connection reset by peer' };
  if (!failure && how === 'fin' && policy.enforceCloseNotify) failure = { code: EXIT_TLS, message: TRUNCATED };
  if (!failure && how === 'fin') {
    actions.push({ type: 'debug', message: 'EOF from the network without close_notify' });
    // Under -j a bare FIN is a normal end, but after our own half-close it
    // is how servers that give up on a half-closed client cut their answer.
    // Only when an answer was coming: after a quiet pause and nothing since,
    // the answer was complete and the server's bare FIN cut nothing.
    if (alert && state.answerInProgress) actions.push({ type: 'warn', message: `${ALERT_AFTER_HALF_CLOSE} (${alert})${HALF_CLOSE_ADVICE}` });
    else if (state.up === 'shut' && state.answerInProgress) actions.push({ type: 'warn', message: HALF_CLOSE_WARNING });
  }
  if (how === 'close_notify') actions.push({ type: 'debug', message: 'end of the remote stream (close_notify)' });
  let up = state.up;
  if (policy.sendsAfterPeerEnd && !failure && how !== 'reset' && isSending(up)) {
    // The client has ended its direction only: prog's answer still goes out.
    if (up === 'quieting') {
      const next: SessionState = { ...state, remoteEnd: how, down: 'delivering' };
      const shut = shutdownUp(policy, next, false);
      return { state: shut.state, actions: [...actions, { type: 'disarmDeadline' }, ...shut.actions, { type: 'endOutput' }] };
    }
    return { state: { ...state, remoteEnd: how, down: 'delivering' }, actions: [...actions, { type: 'endOutput' }] };
  }
  if (isSending(up)) {
    // The server has ended: stdin is not waited for; what was read still goes out.
    up = 'abandoned';
    actions.push({ type: 'stopInput' });
  }
  return { state: { ...state, remoteEnd: how, failure, up, down: 'delivering', deadline: 'none', endBound: false }, actions: [...actions, { type: 'endOutput' }] };
}

/** The way up still carries the input (it has not ended, or it is being flushed or held back for quiet). */
function isSending(up: UpState): boolean {
  return up === 'open' || up === 'flushing' || up === 'quieting';
}

/** After writes settle: the session is over once the output is closed too. */
function settleIfDone(state: SessionState, actions: SessionAction[]): Transition {
  if (state.down === 'closed' && !state.writesPending && state.up !== 'held' && state.up !== 'closing' && !isSending(state.up)) {
    return finish(state, [...actions, ...disarm(state)]);
  }
  return { state, actions };
}

function fail(state: SessionState, failure: Failure): Transition {
  return finish({ ...state, failure: state.failure ?? failure }, disarm(state));
}

function finish(state: SessionState, actions: SessionAction[]): Transition {
  return { state: { ...state, phase: 'done', deadline: 'none', endBound: false }, actions: [...actions, { type: 'finish' }] };
}

/** Both clocks stop (the end bound only matters while our end waits). */
function disarm(state: SessionState): SessionAction[] {
  return [
    ...(state.deadline !== 'none' ? [{ type: 'disarmDeadline' } as const] : []),
    ...(state.endBound ? [{ type: 'disarmEndBound' } as const] : []),
  ];
}

function same(state: SessionState): Transition {
  return { state, actions: [] };
}
