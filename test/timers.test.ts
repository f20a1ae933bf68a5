// Timers past Node's setTimeout limit (2^31-1 ms), and -K as one budget for
// a STARTTLS prelude and the handshake together.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'child_process';
import { createServer, Server, Socket } from 'net';
import { TLSSocket, createSecureContext } from 'tls';
import { join } from 'path';
import { Pki, Cert, serverPki, K, SERVER_NAME } from './helpers/pki';
import { REPO, cleanEnv, runWithSocket } from './helpers/harness';
import { startTlsServer } from './helpers/servers';
import { LONGEST_NODE_DELAY_MS, startTimer, TimerClock } from '../src/base/timer';

let pki: Pki;
let root: Cert;
let leaf: Cert;

before(() => ({ pki, root, leaf } = serverPki()));
after(() => pki.remove());

/** A clock that only moves when told: the timer alone, no waiting. */
function fakeClock(): TimerClock & { now: number; delays: number[]; advance(ms: number): void } {
  let pending: { at: number; callback: () => void; handle: number }[] = [];
  let next = 0;
  const clock = {
    now: 0,
    delays: [] as number[],
    setTimeout(callback: () => void, ms: number): unknown {
      clock.delays.push(ms);
      const handle = ++next;
      pending.push({ at: clock.now + ms, callback, handle });
      return handle;
    },
    clearTimeout(handle: unknown): void {
      pending = pending.filter((p) => p.handle !== handle);
    },
    advance(ms: number): void {
      const until = clock.now + ms;
      for (;;) {
        const due = pending.filter((p) => p.at <= until).sort((a, b) => a.at - b.at)[0];
        if (!due) break;
        pending = pending.filter((p) => p !== due);
        clock.now = due.at;
        due.callback();
      }
      clock.now = until;
    },
  };
  return clock;
}

test('the timer waits past 2^31-1 ms in steps Node honours, and fires once at the end', () => {
  for (const ms of [2 ** 31, 2 ** 32 - 1, 4294967295 * 1000, LONGEST_NODE_DELAY_MS, 1]) {
    const clock = fakeClock();
    let fired = 0;
    startTimer(ms, () => fired++, { clock });
    clock.advance(ms - 1);
    assert.equal(fired, 0, `${ms}: not before its time`);
    clock.advance(1);
    assert.equal(fired, 1, `${ms}: at its time`);
    clock.advance(10 * LONGEST_NODE_DELAY_MS);
    assert.equal(fired, 1, `${ms}: once`);
    assert.ok(clock.delays.every((d) => d >= 0 && d <= LONGEST_NODE_DELAY_MS), `${ms}: every step within Node's limit: ${clock.delays}`);
  }
});

test('a cancelled timer never fires, in its first step or a later one', () => {
  for (const cancelAt of [0, 1000, LONGEST_NODE_DELAY_MS + 5]) {
    const clock = fakeClock();
    let fired = 0;
    const timer = startTimer(2 ** 32 - 1, () => fired++, { clock });
    clock.advance(cancelAt);
    timer.cancel();
    timer.cancel();
    clock.advance(2 ** 33);
    assert.equal(fired, 0, `cancelled at ${cancelAt}`);
  }
});

test('with Node\'s clock: a short timer fires, a cancelled one does not, and an unref\'d one does not hold the process', async () => {
  const fired = await new Promise<boolean>((resolve) => startTimer(5, () => resolve(true)));
  assert.equal(fired, true);
  let late = false;
  startTimer(10, () => (late = true)).cancel();
  await new Promise((resolve) => startTimer(50, () => resolve(undefined)));
  assert.equal(late, false);
  const child = spawn(process.execPath, ['-e', `require(${JSON.stringify(join(REPO, 'dist', 'src', 'base', 'timer.js'))}).startTimer(2 ** 32 - 1, () => process.exit(3), { holdsProcess: false })`]);
  const [code] = await new Promise<[number | null]>((resolve) => child.on('close', (c) => resolve([c])));
  assert.equal(code, 0, 'the process ended without waiting for the timer');
});

test('-K 2147483648 (past 2^31-1): the handshake is not cut at once, exit 0, no TimeoutOverflowWarning', async () => {
  const server = await startTlsServer({ leaf }, (s: TLSSocket) => s.once('data', (d) => s.end(d)));
  try {
    const r = await runWithSocket(server.port, ['-K', '2147483648', ...K, '6', '7'], { env: { CAFILE: root.certPath }, stdin: 'ping' });
    assert.equal(r.stderr, '');
    assert.equal(r.code, 0);
    assert.equal(r.stdout.toString(), 'ping');
    const max = await runWithSocket(server.port, ['-K', '4294967295', ...K, '6', '7'], { env: { CAFILE: root.certPath }, stdin: 'pong' });
    assert.equal(max.stderr, '');
    assert.equal(max.code, 0);
  } finally {
    await server.close();
  }
});

test('-K 4294967296 (past 32 bits) is a usage error, as in C', async () => {
  const server = await startTlsServer({ leaf }, (s: TLSSocket) => s.end());
  try {
    const r = await runWithSocket(server.port, ['-K', '4294967296', ...K, '6', '7'], { env: { CAFILE: root.certPath } });
    assert.equal(r.code, 100);
    assert.match(r.stderr, /^s6-tlsc-io: usage: kimeout must be an unsigned integer: s6-tlsc-io \[ .* fdr fdw\n$/);
  } finally {
    await server.close();
  }
});

test('s6-tlsclient -T 2147484+0 and -t 4294967295 (seconds, past 2^31-1 ms): the connection is made, not timed out at once', async () => {
  const server = await startTlsServer({ leaf }, (s: TLSSocket) => s.once('data', (d) => s.end(d)));
  try {
    const bin = join(REPO, 'bin', 's6-tlsclient');
    const child = spawn(bin, ['-T', '2147484+0', '-t', '4294967295', ...K, '127.0.0.1', String(server.port), 'sh', '-c', 'echo ping >&7; exec cat <&6'], { env: cleanEnv({ CAFILE: root.certPath }) });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c) => (stdout += c));
    child.stderr.on('data', (c) => (stderr += c));
    const code = await new Promise((resolve) => child.on('close', resolve));
    assert.equal(stderr, '');
    assert.equal(code, 0);
    assert.equal(stdout, 'ping\n');
  } finally {
    await server.close();
  }
});

test('the library with handshakeTimeoutMs 2**31: the handshake completes, no TimeoutOverflowWarning', async () => {
  const server = await startTlsServer({ leaf }, (s: TLSSocket) => s.once('data', (d) => s.end(d)));
  try {
    const caller = `
const { PassThrough } = require('stream');
const { runTlsClient } = require(${JSON.stringify(join(REPO, 'dist', 'src', 'index.js'))});
const input = new PassThrough();
const output = new PassThrough();
let reply = '';
output.on('data', (c) => (reply += c));
input.end('hello');
runTlsClient({ network: { host: '127.0.0.1', port: ${server.port}, timeoutMs: 2 ** 32 - 1 }, cleartext: { input, output }, trust: { cafile: ${JSON.stringify(root.certPath)} }, servername: ${JSON.stringify(SERVER_NAME)}, handshakeTimeoutMs: 2 ** 31 })
  .then((o) => process.stdout.write(JSON.stringify({ exitCode: o.exitCode, reason: o.reason, reply })));
`;
    const child = spawn(process.execPath, ['-e', caller], { env: cleanEnv({}) });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c) => (stdout += c));
    child.stderr.on('data', (c) => (stderr += c));
    const code = await new Promise((resolve) => child.on('close', resolve));
    assert.equal(stderr, '');
    assert.equal(code, 0);
    assert.deepEqual(JSON.parse(stdout), { exitCode: 0, reply: 'hello' });
  } finally {
    await server.close();
  }
});

/**
 * An SMTP server that takes `preludeMs` before its greeting and, once it
 * said 220 to STARTTLS, `handshakeMs` before it starts TLS (the ClientHello
 * waits in the kernel meanwhile). `secured` resolves when a connection's
 * TLS is up; `tlsUp` counts them so far.
 */
async function slowSmtp(preludeMs: number, handshakeMs: number): Promise<{ port: number; secured: Promise<void>; tlsUp(): number; close(): Promise<void> }> {
  let up = 0;
  let onSecure!: () => void;
  const secured = new Promise<void>((resolve) => (onSecure = resolve));
  const sockets = new Set<Socket>();
  const server: Server = createServer({ allowHalfOpen: true }, (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    {
      {
        let buffer = '';
        const onData = (c: Buffer): void => {
          buffer += c.toString('latin1');
          if (/^EHLO .*\r\n$/.test(buffer)) {
            buffer = '';
            socket.write('250-mail.test\r\n250 STARTTLS\r\n');
          } else if (buffer === 'STARTTLS\r\n') {
            socket.off('data', onData);
            socket.pause();
            socket.write('220 go ahead\r\n');
            setTimeout(() => {
              const tls = new TLSSocket(socket, { isServer: true, secureContext: createSecureContext({ cert: leaf.certPem, key: leaf.keyPem }) });
              tls.on('error', () => undefined);
              tls.on('secure', () => {
                up++;
                onSecure();
                tls.end();
              });
            }, handshakeMs);
          }
        };
        socket.on('data', onData);
        setTimeout(() => socket.write('220 mail.test ESMTP\r\n'), preludeMs);
      }
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as { port: number }).port,
    secured,
    tlsUp: () => up,
    close: () =>
      new Promise((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

function tlsclient(port: number, kimeout: number): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const bin = join(REPO, 'bin', 's6-tlsclient');
  const args = ['--starttls=smtp', '-K', String(kimeout), ...K, '127.0.0.1', String(port), 'sh', '-c', 'echo prog ran'];
  const child = spawn(bin, args, { env: cleanEnv({ CAFILE: root.certPath }) });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c) => (stdout += c));
  child.stderr.on('data', (c) => (stderr += c));
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
}

test('-K is one budget for the STARTTLS prelude and the handshake: 2500 ms of each under -K 4000 times out', async () => {
  const server = await slowSmtp(2500, 2500);
  try {
    const r = await tlsclient(server.port, 4000);
    assert.equal(r.code, 98, r.stderr);
    assert.equal(r.stderr, 's6-tlsclient: fatal: handshake timed out after 4000 ms\n');
    assert.equal(r.stdout, '', 'prog was not started');
    assert.equal(server.tlsUp(), 0, 'the handshake never completed');
  } finally {
    await server.close();
  }
});

test('-K as one budget: a prelude and a handshake that fit in it together succeed', async () => {
  const server = await slowSmtp(200, 200);
  try {
    const r = await tlsclient(server.port, 4000);
    assert.equal(r.stderr, '');
    assert.equal(r.code, 0);
    assert.equal(r.stdout, 'prog ran\n');
    await server.secured;
    assert.equal(server.tlsUp(), 1);
  } finally {
    await server.close();
  }
});
