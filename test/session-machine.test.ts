// The session machine alone (src/engine/session.ts), without sockets: a table of
// (state, event) -> (state, actions) rows for the rules of SPEC section 6,
// then every event from every state reachable under every policy, checked
// against the invariants the rules add up to.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  HALF_CLOSE_WARNING,
  initialState,
  SessionEvent,
  SessionPolicy,
  SessionState,
  step,
  TRUNCATED,
} from '../src/engine/session';

const DEFAULT: SessionPolicy = { closeNotify: false, enforceCloseNotify: false, noShutdown: false, handshakeTimeoutMs: 0 };

function running(over: Partial<SessionState> = {}): SessionState {
  return { phase: 'running', up: 'open', down: 'open', tls13: true, writesPending: false, deadline: 'none', ...over };
}

interface Row {
  name: string;
  policy?: Partial<SessionPolicy>;
  from: SessionState;
  event: SessionEvent;
  to: Partial<SessionState>;
  actions: string[];
}

const failure111 = { code: 111, message: 'earlier' };

const rows: Row[] = [
  { name: 'handshake verified: the pumps start', from: initialState(DEFAULT), event: { type: 'verified', tls13: true }, to: { phase: 'running', tls13: true }, actions: ['startPumps'] },
  { name: 'handshake verified with -K: the deadline is disarmed', policy: { handshakeTimeoutMs: 500 }, from: initialState({ ...DEFAULT, handshakeTimeoutMs: 500 }), event: { type: 'verified', tls13: false }, to: { phase: 'running', deadline: 'none' }, actions: ['disarmDeadline', 'startPumps'] },
  { name: 'handshake failed: done with its failure', from: initialState(DEFAULT), event: { type: 'handshakeFailed', failure: { code: 98, message: 'bad cert' } }, to: { phase: 'done', failure: { code: 98, message: 'bad cert' } }, actions: ['finish'] },
  { name: '-K expires during the handshake: 98 with the time', policy: { handshakeTimeoutMs: 500 }, from: initialState({ ...DEFAULT, handshakeTimeoutMs: 500 }), event: { type: 'deadline' }, to: { phase: 'done', failure: { code: 98, message: 'handshake timed out after 500 ms' } }, actions: ['disarmDeadline', 'finish'] },
  { name: 'a late deadline without -K changes nothing', from: initialState(DEFAULT), event: { type: 'deadline' }, to: { phase: 'handshaking' }, actions: [] },
  { name: 'input EOF: flush first', from: running(), event: { type: 'inputEnded' }, to: { up: 'flushing' }, actions: ['flushUp'] },
  { name: 'flushed: our end waits for the server to be quiet a moment, and at the latest for the end bound', from: running({ up: 'flushing' }), event: { type: 'upFlushed' }, to: { up: 'quieting', deadline: 'quiet', endBound: true }, actions: ['armDeadline', 'armEndBound'] },
  { name: 'quiet on TLS 1.3 with -s: close_notify then FIN, the bound stops', from: running({ up: 'quieting', deadline: 'quiet', endBound: true, tls13: true }), event: { type: 'deadline' }, to: { up: 'shut', endBound: false, answerInProgress: undefined }, actions: ['disarmEndBound', 'shutdownUp:notify'] },
  { name: 'quiet on TLS 1.2 with -S: close_notify then FIN', policy: { closeNotify: true }, from: running({ up: 'quieting', deadline: 'quiet', endBound: true, tls13: false }), event: { type: 'deadline' }, to: { up: 'shut' }, actions: ['disarmEndBound', 'shutdownUp:notify'] },
  { name: 'the server sends more: the quiet wait starts again', from: running({ up: 'quieting', deadline: 'quiet', endBound: true }), event: { type: 'progress' }, to: { up: 'quieting', deadline: 'quiet', endBound: true }, actions: ['armDeadline'] },
  { name: 'quiet on TLS 1.2 with -s: a bare FIN', from: running({ up: 'quieting', deadline: 'quiet', endBound: true, tls13: false }), event: { type: 'deadline' }, to: { up: 'shut', deadline: 'none' }, actions: ['disarmEndBound', 'shutdownUp:fin'] },
  { name: 'silence while our output is full is not quiet: wait again', from: running({ up: 'quieting', deadline: 'quiet', endBound: true, outputBlocked: true }), event: { type: 'deadline' }, to: { up: 'quieting', deadline: 'quiet' }, actions: ['armDeadline'] },
  { name: 'the output takes data again', from: running({ up: 'quieting', deadline: 'quiet', outputBlocked: true }), event: { type: 'outputBlocked', blocked: false }, to: { outputBlocked: false }, actions: [] },
  { name: 'the end bound passes while the server still sends (TLS 1.3): close_notify then FIN, an answer in progress', from: running({ up: 'quieting', deadline: 'quiet', endBound: true, tls13: true }), event: { type: 'endBound' }, to: { up: 'shut', deadline: 'none', endBound: false, answerInProgress: true }, actions: ['disarmDeadline', 'debug', 'shutdownUp:notify'] },
  { name: 'the end bound passes on TLS 1.2 with -s: a bare FIN', from: running({ up: 'quieting', deadline: 'quiet', endBound: true, tls13: false }), event: { type: 'endBound' }, to: { up: 'shut', answerInProgress: true }, actions: ['disarmDeadline', 'debug', 'shutdownUp:fin'] },
  { name: 'the end bound passes even while our output is full', from: running({ up: 'quieting', deadline: 'quiet', endBound: true, outputBlocked: true, tls13: false }), event: { type: 'endBound' }, to: { up: 'shut' }, actions: ['disarmDeadline', 'debug', 'shutdownUp:fin'] },
  { name: 'a late end bound after our end changes nothing', from: running({ up: 'shut' }), event: { type: 'endBound' }, to: { up: 'shut' }, actions: [] },
  { name: 'the server ended while we waited: no end of ours is needed', from: running({ up: 'quieting', deadline: 'quiet', endBound: true }), event: { type: 'networkEnded', how: 'close_notify' }, to: { up: 'abandoned', down: 'delivering', deadline: 'none', endBound: false }, actions: ['disarmDeadline', 'disarmEndBound', 'debug', 'stopInput', 'endOutput'] },
  { name: 'data after our end: an answer in progress', from: running({ up: 'shut' }), event: { type: 'received' }, to: { answerInProgress: true }, actions: [] },
  { name: 'data before our end is no answer after it', from: running({ up: 'quieting', deadline: 'quiet' }), event: { type: 'received' }, to: { answerInProgress: undefined }, actions: [] },
  { name: 'an alert in answer to our bare FIN under -j, nothing coming: an end like a FIN, no warning', from: running({ up: 'shut', tls13: false }), event: { type: 'networkFailed', failure: { code: 98, message: 'the server sent a fatal alert: decode error' }, alert: 'decode error' }, to: { down: 'delivering', remoteEnd: 'fin', failure: undefined }, actions: ['debug', 'endOutput'] },
  { name: 'an alert in answer to our bare FIN under -j while an answer came: a warning', from: running({ up: 'shut', tls13: false, answerInProgress: true }), event: { type: 'networkFailed', failure: { code: 98, message: 'the server sent a fatal alert: decode error' }, alert: 'decode error' }, to: { down: 'delivering', remoteEnd: 'fin', failure: undefined }, actions: ['debug', 'warn:alert', 'endOutput'] },
  { name: 'the same alert under -J: 98', policy: { enforceCloseNotify: true }, from: running({ up: 'shut', tls13: false }), event: { type: 'networkFailed', failure: { code: 98, message: 'x' }, alert: 'decode error' }, to: { down: 'delivering', failure: { code: 98, message: 'x' } }, actions: ['endOutput'] },
  { name: 'an alert before any end of ours: 98', from: running({ tls13: false }), event: { type: 'networkFailed', failure: { code: 98, message: 'x' }, alert: 'decode error' }, to: { failure: { code: 98, message: 'x' } }, actions: ['stopInput', 'endOutput'] },
  { name: 'flushed with --no-shutdown: nothing is sent', policy: { noShutdown: true }, from: running({ up: 'flushing' }), event: { type: 'upFlushed' }, to: { up: 'held' }, actions: ['debug'] },
  { name: 'close_notify from the server: deliver, stop the input', from: running(), event: { type: 'networkEnded', how: 'close_notify' }, to: { down: 'delivering', up: 'abandoned', remoteEnd: 'close_notify' }, actions: ['debug', 'stopInput', 'endOutput'] },
  { name: 'a FIN under -j: a normal end', from: running(), event: { type: 'networkEnded', how: 'fin' }, to: { down: 'delivering', failure: undefined }, actions: ['debug', 'stopInput', 'endOutput'] },
  { name: 'a FIN under -j after our half-close while an answer came: the warning', from: running({ up: 'shut', answerInProgress: true }), event: { type: 'networkEnded', how: 'fin' }, to: { down: 'delivering', up: 'shut' }, actions: ['debug', `warn:${HALF_CLOSE_WARNING}`, 'endOutput'] },
  { name: 'a FIN under -j after our half-close, nothing since (the answer was over): no warning', from: running({ up: 'shut' }), event: { type: 'networkEnded', how: 'fin' }, to: { down: 'delivering', up: 'shut' }, actions: ['debug', 'endOutput'] },
  { name: 'a FIN under -J: 98, after delivering', policy: { enforceCloseNotify: true }, from: running({ up: 'shut' }), event: { type: 'networkEnded', how: 'fin' }, to: { down: 'delivering', failure: { code: 98, message: TRUNCATED } }, actions: ['endOutput'] },
  { name: 'a reset: 111, after delivering', from: running(), event: { type: 'networkEnded', how: 'reset', message: 'unable to read from the network: Connection reset by peer' }, to: { down: 'delivering', failure: { code: 111, message: 'unable to read from the network: Connection reset by peer' } }, actions: ['stopInput', 'endOutput'] },
  { name: 'output ended after a clean end: done, success', from: running({ up: 'abandoned', down: 'delivering', remoteEnd: 'close_notify' }), event: { type: 'outputEnded' }, to: { phase: 'done', down: 'closed', failure: undefined }, actions: ['finish'] },
  { name: 'output ended with writes pending: they get a drain deadline', from: running({ up: 'abandoned', down: 'delivering', remoteEnd: 'fin', writesPending: true }), event: { type: 'outputEnded' }, to: { phase: 'running', down: 'closed', deadline: 'drain' }, actions: ['armDeadline'] },
  { name: 'then the writes settle: done', from: running({ up: 'abandoned', down: 'closed', remoteEnd: 'fin', writesPending: true, deadline: 'drain' }), event: { type: 'writesPending', pending: false }, to: { phase: 'done' }, actions: ['disarmDeadline', 'finish'] },
  { name: 'or the drain deadline passes: done, with a warning', from: running({ up: 'abandoned', down: 'closed', remoteEnd: 'fin', writesPending: true, deadline: 'drain' }), event: { type: 'deadline' }, to: { phase: 'done', failure: undefined }, actions: ['warnUnsent', 'finish'] },
  { name: 'output ended after a failure: done, failing', from: running({ up: 'abandoned', down: 'delivering', remoteEnd: 'reset', failure: failure111 }), event: { type: 'outputEnded' }, to: { phase: 'done', failure: failure111 }, actions: ['finish'] },
  { name: '--no-shutdown, the server ended, -s: close at once', policy: { noShutdown: true }, from: running({ up: 'held', down: 'delivering', remoteEnd: 'close_notify' }), event: { type: 'outputEnded' }, to: { phase: 'done' }, actions: ['finish'] },
  { name: '--no-shutdown, the server ended, -S: close_notify first', policy: { noShutdown: true, closeNotify: true }, from: running({ up: 'held', down: 'delivering', remoteEnd: 'close_notify' }), event: { type: 'outputEnded' }, to: { phase: 'running', up: 'closing' }, actions: ['closeHeld'] },
  { name: '--no-shutdown -S: done once the close_notify is out', policy: { noShutdown: true, closeNotify: true }, from: running({ up: 'closing', down: 'closed', remoteEnd: 'close_notify' }), event: { type: 'upShutDone' }, to: { phase: 'done' }, actions: ['finish'] },
  { name: 'a write to the network fails mid-session: read the rest first', from: running(), event: { type: 'networkWriteFailed', message: 'unable to write to the network: Broken pipe' }, to: { up: 'abandoned', failure: { code: 111, message: 'unable to write to the network: Broken pipe' }, deadline: 'drain' }, actions: ['stopInput', 'armDeadline', 'debug'] },
  { name: 'then the read side stalls: deliver what we have', from: running({ up: 'abandoned', failure: failure111, deadline: 'drain' }), event: { type: 'deadline' }, to: { down: 'delivering' }, actions: ['endOutput'] },
  { name: 'a write fails after the server ended: the rest is lost, with a warning', from: running({ up: 'abandoned', down: 'closed', remoteEnd: 'close_notify', writesPending: true, deadline: 'drain' }), event: { type: 'networkWriteFailed', message: 'x' }, to: { phase: 'done', failure: undefined }, actions: ['stopInput', 'warnUnsent', 'disarmDeadline', 'finish'] },
  { name: 'a TLS error mid-session: deliver, then fail with it', from: running(), event: { type: 'networkFailed', failure: { code: 98, message: 'TLS protocol error: bad record mac' } }, to: { down: 'delivering', failure: { code: 98, message: 'TLS protocol error: bad record mac' } }, actions: ['stopInput', 'endOutput'] },
  { name: 'stdout fails: 111 at once', from: running(), event: { type: 'outputFailed', message: 'unable to write to stdout: Broken pipe' }, to: { phase: 'done', down: 'closed', failure: { code: 111, message: 'unable to write to stdout: Broken pipe' } }, actions: ['finish'] },
  { name: 'stdout fails while delivering after a clean end: 111, not 0', from: running({ up: 'abandoned', down: 'delivering', remoteEnd: 'close_notify' }), event: { type: 'outputFailed', message: 'unable to write to stdout: No space left on device' }, to: { phase: 'done', failure: { code: 111, message: 'unable to write to stdout: No space left on device' } }, actions: ['finish'] },
  { name: 'the first failure wins', from: running({ up: 'abandoned', down: 'delivering', failure: failure111 }), event: { type: 'outputFailed', message: 'later' }, to: { phase: 'done', failure: failure111 }, actions: ['finish'] },
  { name: 'stdin fails: 111', from: running(), event: { type: 'inputFailed', message: 'unable to read from stdin: Input/output error' }, to: { phase: 'done', failure: { code: 111, message: 'unable to read from stdin: Input/output error' } }, actions: ['finish'] },
  { name: 'progress restarts a running drain deadline', from: running({ deadline: 'drain', up: 'abandoned', failure: failure111 }), event: { type: 'progress' }, to: { deadline: 'drain' }, actions: ['armDeadline'] },
  { name: 'progress without a deadline changes nothing', from: running(), event: { type: 'progress' }, to: {}, actions: [] },
  { name: 'a second verified (renegotiation) changes nothing', from: running(), event: { type: 'verified', tls13: false }, to: { tls13: true }, actions: [] },
  { name: 'done is final', from: { ...running(), phase: 'done' }, event: { type: 'networkEnded', how: 'reset' }, to: { phase: 'done', failure: undefined }, actions: [] },
];

function describeAction(a: ReturnType<typeof step>['actions'][number]): string {
  if (a.type === 'shutdownUp') return `shutdownUp:${a.closeNotify ? 'notify' : 'fin'}`;
  if (a.type === 'warn') return a.message.startsWith('the server answered our half-close with an alert (decode error)') ? 'warn:alert' : `warn:${a.message}`;
  return a.type;
}

const SERVER: Partial<SessionPolicy> = { sendsAfterPeerEnd: true, endsAtOnce: true };
rows.push(
  { name: 'server: the client ends its direction: prog\'s input ends, its answer still goes out', policy: SERVER, from: running(), event: { type: 'networkEnded', how: 'close_notify' }, to: { up: 'open', down: 'delivering', remoteEnd: 'close_notify' }, actions: ['debug', 'endOutput'] },
  { name: 'server: then prog\'s output is flushed: our end goes out at once', policy: SERVER, from: running({ up: 'flushing', down: 'closed', remoteEnd: 'close_notify' }), event: { type: 'upFlushed' }, to: { up: 'shut' }, actions: ['shutdownUp:notify'] },
  { name: 'server: our end out, the client\'s delivered: done', policy: SERVER, from: running({ up: 'shut', down: 'closed', remoteEnd: 'close_notify' }), event: { type: 'upShutDone' }, to: { phase: 'done' }, actions: ['finish'] },
  { name: 'server: prog ends first: no quiet wait, our end goes out once flushed', policy: SERVER, from: running({ up: 'flushing' }), event: { type: 'upFlushed' }, to: { up: 'shut', deadline: 'none' }, actions: ['shutdownUp:notify'] },
  { name: 'server under -S: the client\'s end ends the session, as the client\'s rule', policy: { ...SERVER, sendsAfterPeerEnd: false, closeNotify: true }, from: running(), event: { type: 'networkEnded', how: 'close_notify' }, to: { up: 'abandoned', down: 'delivering' }, actions: ['debug', 'stopInput', 'endOutput'] },
  { name: 'server: a reset is no end of a direction: input stops', policy: SERVER, from: running(), event: { type: 'networkEnded', how: 'reset', message: 'r' }, to: { up: 'abandoned', failure: { code: 111, message: 'r' } }, actions: ['stopInput', 'endOutput'] },
);

for (const row of rows) {
  test(`machine: ${row.name}`, () => {
    const policy = { ...DEFAULT, ...row.policy };
    const { state, actions } = step(policy, row.from, row.event);
    for (const [key, value] of Object.entries(row.to)) {
      assert.deepEqual(state[key as keyof SessionState], value, `${key}`);
    }
    assert.deepEqual(actions.map(describeAction), row.actions);
  });
}

// ---- every event from every reachable state, under every policy ----

const EVENTS: SessionEvent[] = [
  { type: 'verified', tls13: true },
  { type: 'verified', tls13: false },
  { type: 'handshakeFailed', failure: { code: 98, message: 'h' } },
  { type: 'deadline' },
  { type: 'inputEnded' },
  { type: 'inputFailed', message: 'i' },
  { type: 'upFlushed' },
  { type: 'upShutDone' },
  { type: 'writesPending', pending: true },
  { type: 'writesPending', pending: false },
  { type: 'progress' },
  { type: 'endBound' },
  { type: 'received' },
  { type: 'outputBlocked', blocked: true },
  { type: 'outputBlocked', blocked: false },
  { type: 'networkWriteFailed', message: 'w' },
  { type: 'networkEnded', how: 'close_notify' },
  { type: 'networkEnded', how: 'fin' },
  { type: 'networkEnded', how: 'reset', message: 'r' },
  { type: 'networkFailed', failure: { code: 98, message: 'n' } },
  { type: 'networkFailed', failure: { code: 98, message: 'a' }, alert: 'decode error' },
  { type: 'outputEnded' },
  { type: 'outputFailed', message: 'o' },
];

const POLICIES: SessionPolicy[] = [];
for (const closeNotify of [false, true])
  for (const enforceCloseNotify of [false, true])
    for (const noShutdown of [false, true])
      for (const handshakeTimeoutMs of [0, 1000]) {
        POLICIES.push({ closeNotify, enforceCloseNotify, noShutdown, handshakeTimeoutMs });
        // The server role (src/engine/tunnel.ts sets these for it).
        POLICIES.push({ closeNotify, enforceCloseNotify, noShutdown, handshakeTimeoutMs, sendsAfterPeerEnd: !closeNotify, endsAtOnce: true });
      }

const PHASES = ['handshaking', 'running', 'done'];
const DOWNS = ['open', 'delivering', 'closed'];
const UPS_REACHED_FROM = {
  open: [],
  flushing: ['open'],
  quieting: ['flushing'],
  shut: ['flushing', 'quieting'],
  held: ['flushing'],
  closing: ['held'],
  abandoned: ['open', 'flushing', 'quieting', 'shut', 'held', 'closing'],
} as Record<string, string[]>;

test('machine: every event from every reachable state keeps the invariants, under every policy', () => {
  let pairs = 0;
  const seenStates = new Set<string>();
  const seenUps = new Set<string>();
  for (const policy of POLICIES) {
    const start = initialState(policy);
    const key = (s: SessionState): string => JSON.stringify(s);
    const known = new Map<string, SessionState>([[key(start), start]]);
    const todo = [start];
    while (todo.length > 0) {
      const from = todo.pop() as SessionState;
      for (const event of EVENTS) {
        pairs++;
        const { state: to, actions } = step(policy, from, event);
        const types = actions.map((a) => a.type);
        const where = `${key(from)} + ${JSON.stringify(event)} -> ${key(to)} [${types}]`;
        // done is final; finish comes exactly when the session becomes done
        if (from.phase === 'done') assert.deepEqual({ to, actions }, { to: from, actions: [] }, where);
        assert.equal(types.includes('finish'), from.phase !== 'done' && to.phase === 'done', where);
        if (types.includes('finish')) assert.equal(types[types.length - 1], 'finish', `finish is the last action: ${where}`);
        // the first failure decides the exit code
        if (from.failure) assert.deepEqual(to.failure, from.failure, where);
        if (to.failure) assert.ok([96, 97, 98, 100, 111].includes(to.failure.code), where);
        // nothing goes backwards
        assert.ok(PHASES.indexOf(to.phase) >= PHASES.indexOf(from.phase), where);
        assert.ok(DOWNS.indexOf(to.down) >= DOWNS.indexOf(from.down), where);
        if (to.up !== from.up) assert.ok(UPS_REACHED_FROM[to.up].includes(from.up), where);
        // the pumps start once, from the handshake
        if (types.includes('startPumps')) assert.equal(from.phase, 'handshaking', where);
        if (from.phase === 'handshaking' && to.phase === 'running') assert.equal(event.type, 'verified', where);
        // exit 0 only after the output was closed, and never after a reset or, under -J, a bare FIN
        if (to.phase === 'done' && !to.failure) {
          assert.equal(to.down, 'closed', where);
          assert.ok(to.remoteEnd === 'close_notify' || (to.remoteEnd === 'fin' && !policy.enforceCloseNotify), where);
        }
        // our end: close_notify on TLS 1.3 and under -S; nothing under --no-shutdown
        for (const a of actions) {
          if (a.type === 'shutdownUp') {
            assert.equal(policy.noShutdown, false, where);
            assert.equal(a.closeNotify, to.tls13 || policy.closeNotify, where);
          }
          if (a.type === 'closeHeld') assert.equal(policy.noShutdown && policy.closeNotify, true, where);
        }
        // one deadline: armed only when the state says so, and never left armed at the end
        if (types.includes('armDeadline')) assert.notEqual(to.deadline, 'none', where);
        if (to.deadline !== from.deadline && to.deadline !== 'none') assert.ok(types.includes('armDeadline'), where);
        if (from.deadline !== 'none' && to.deadline === 'none') assert.ok(types.includes('disarmDeadline') || types.includes('finish') || event.type === 'deadline', where);
        if (to.phase === 'done') assert.equal(to.deadline, 'none', where);
        // the end bound: armed once, when our end starts waiting; stopped whenever the wait ends
        if (types.includes('armEndBound')) assert.ok(from.up === 'flushing' && to.up === 'quieting' && to.endBound, where);
        if (from.endBound && !to.endBound) assert.ok(types.includes('disarmEndBound') || types.includes('finish') || event.type === 'endBound', where);
        if (to.endBound) assert.equal(to.up, 'quieting', where);
        // our end always goes out: once the bound passes while waiting, it goes at once
        if (event.type === 'endBound' && from.phase === 'running' && from.up === 'quieting' && from.endBound) assert.ok(types.includes('shutdownUp'), where);
        // the half-close warning only when an answer was coming after our end
        if (types.includes('warn') && event.type !== 'networkFailed') assert.ok(from.answerInProgress, where);
        // a fatal alert is forgiven only under -j, after our own bare FIN, with a warning
        if (event.type === 'networkFailed' && event.alert && from.phase === 'running' && from.down === 'open' && !from.failure && !to.failure) {
          assert.ok(!policy.enforceCloseNotify && from.up === 'shut' && !from.tls13 && !policy.closeNotify, where);
          assert.equal(types.includes('warn'), Boolean(from.answerInProgress), where);
        }
        // the output is ended once
        if (types.includes('endOutput')) assert.equal(from.down, 'open', where);
        if (!known.has(key(to))) {
          known.set(key(to), to);
          todo.push(to);
        }
      }
    }
    for (const s of known.values()) {
      seenStates.add(`${s.phase}/${s.up}/${s.down}/${s.deadline}`);
      seenUps.add(s.up);
    }
  }
  // Every state value is reached and every event was tried from each reachable state.
  assert.deepEqual([...seenUps].sort(), ['abandoned', 'closing', 'flushing', 'held', 'open', 'quieting', 'shut']);
  // (A session ends while delivering only through the output closing or failing: never 'done/delivering'.)
  for (const phase of PHASES) for (const down of DOWNS) if ((phase !== 'handshaking' || down === 'open') && !(phase === 'done' && down === 'delivering')) assert.ok([...seenStates].some((s) => s.startsWith(`${phase}/`) && s.includes(`/${down}/`)), `${phase} ${down}`);
  assert.ok(pairs > 10_000, `${pairs} (state, event) pairs`);
});
