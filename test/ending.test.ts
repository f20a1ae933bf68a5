// End to end: how a session ends, where the output goes (SPEC sections 6
// and 7): -J is 98 whatever stdout is, a write error on stdout at the very
// end is 111, and --no-shutdown against a server that gives up on a
// half-closed client.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { randomBytes } from 'crypto';
import { connect, Socket } from 'net';
import type { TLSSocket } from 'tls';
import { Pki, Cert, serverPki, K } from './helpers/pki';
import { BIN, RunResult, cleanEnv, runWithSocket, sha256, waitFor } from './helpers/harness';
import { startOpensslServer, startTlsOverTcp } from './helpers/servers';

let pki: Pki;
let root: Cert;
let leaf: Cert;
let dir: string;

before(() => {
  ({ pki, root, leaf } = serverPki());
  dir = mkdtempSync(join(tmpdir(), 's6-tlsc-io-ending-'));
});
after(() => {
  pki.remove();
  rmSync(dir, { recursive: true, force: true });
});

const tlsServer = (onSecure: (tls: TLSSocket, raw: Socket) => void) => startTlsOverTcp(leaf, onSecure);

/** Runs the program with the socket at 6/7 and stdout at `stdoutFd`; stdin stays open. */
function runToFd(port: number, args: string[], stdoutFd: number): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const socket = connect({ port, host: '127.0.0.1' });
    socket.once('error', reject);
    socket.once('connect', () => {
      const child = spawn(BIN, args, {
        stdio: ['pipe', stdoutFd, 'pipe', 'ignore', 'ignore', 'ignore', socket, socket],
        env: cleanEnv({ CAFILE: root.certPath }),
      });
      socket.destroy();
      waitFor(child, Date.now(), { keepStdinOpen: true }).then(resolve, reject);
    });
  });
}

const reply = randomBytes(50_000);
/** Sends `reply`, then a bare FIN: no close_notify. */
const truncating = (tls: TLSSocket, raw: Socket): void => void tls.write(reply, () => raw.end());

test('-J: a FIN without close_notify is exit 98 with stdout on a pipe, and every byte before it is delivered', async () => {
  const server = await tlsServer(truncating);
  try {
    const r = await runWithSocket(server.port, ['-J', ...K, '6', '7'], { env: { CAFILE: root.certPath }, keepStdinOpen: true });
    assert.equal(r.code, 98);
    assert.equal(r.stderr, 's6-tlsc-io: fatal: remote closed connection without a close_notify\n');
    assert.equal(sha256(r.stdout), sha256(reply));
  } finally {
    server.close();
  }
});

test('-J: the same with stdout on a regular file: exit 98, the file holds every byte', async () => {
  const server = await tlsServer(truncating);
  const path = join(dir, 'out');
  const fd = openSync(path, 'w');
  try {
    const r = await runToFd(server.port, ['-J', ...K, '6', '7'], fd);
    assert.equal(r.code, 98, r.stderr);
    assert.equal(r.stderr, 's6-tlsc-io: fatal: remote closed connection without a close_notify\n');
    assert.equal(sha256(readFileSync(path)), sha256(reply));
  } finally {
    closeSync(fd);
    server.close();
  }
});

test('-J: the same with stdout on a terminal (script(1)): exit 98', async () => {
  const server = await tlsServer(truncating);
  try {
    const r = await new Promise<RunResult>((resolve, reject) => {
      const socket = connect({ port: server.port, host: '127.0.0.1' });
      socket.once('error', reject);
      socket.once('connect', () => {
        // script gives its command the pty on 0, 1 and 2 and exits with its code (-e).
        const child = spawn('script', ['-qfec', `${BIN} -J ${K.join(' ')} 6 7 >/dev/tty`, '/dev/null'], {
          stdio: ['pipe', 'pipe', 'pipe', 'ignore', 'ignore', 'ignore', socket, socket],
          env: cleanEnv({ CAFILE: root.certPath, TERM: 'dumb' }),
        });
        socket.destroy();
        waitFor(child, Date.now(), { keepStdinOpen: true, timeoutMs: 15000 }).then(resolve, reject);
      });
    });
    assert.equal(r.code, 98, r.stdout.toString('latin1').slice(-300));
    assert.match(r.stdout.toString('latin1'), /s6-tlsc-io: fatal: remote closed connection without a close_notify/);
  } finally {
    server.close();
  }
});

test('stdout on /dev/full: the write error at the end is exit 111 with its words, never 0', async () => {
  const server = await tlsServer((tls) => tls.end(reply));
  const fd = openSync('/dev/full', 'w');
  try {
    for (const flags of [['-j'], ['-J']]) {
      const r = await runToFd(server.port, [...flags, ...K, '6', '7'], fd);
      assert.equal(r.code, 111, r.stderr);
      assert.equal(r.stderr, 's6-tlsc-io: fatal: unable to write to stdout: No space left on device\n');
    }
  } finally {
    closeSync(fd);
    server.close();
  }
});

test('stdout on /dev/full with a reply that fits one write: still 111', async () => {
  const server = await tlsServer((tls) => tls.end('short answer\n'));
  const fd = openSync('/dev/full', 'w');
  try {
    const r = await runToFd(server.port, [...K, '6', '7'], fd);
    assert.equal(r.code, 111, r.stderr);
    assert.match(r.stderr, /^s6-tlsc-io: fatal: unable to write to stdout: No space left on device\n$/);
  } finally {
    closeSync(fd);
    server.close();
  }
});

// A server like nginx: it answers a request with a large body, but takes the
// client's half-close (or its close_notify) as the client giving up, and
// drops the connection at once, without close_notify.
const big = randomBytes(4 * 1024 * 1024);
function impatient(seen: { clientEnded: boolean; finished: boolean }) {
  return (tls: TLSSocket, raw: Socket): void => {
    let offset = 0;
    let started = false;
    // 64 KiB a millisecond or so: the answer takes long enough for the
    // client's end to arrive in the middle of it, as with a real file server.
    const send = (): void => {
      if (raw.destroyed) return;
      if (offset >= big.length) {
        seen.finished = true;
        return void tls.end(); // close_notify, then FIN
      }
      tls.write(big.subarray(offset, offset + 64 * 1024), () => setTimeout(send, 1));
      offset += 64 * 1024;
    };
    tls.on('data', () => {
      if (!started) {
        started = true;
        setImmediate(send);
      }
    });
    tls.on('end', () => {
      seen.clientEnded = true;
      if (!seen.finished) raw.destroy();
    });
  };
}

test('--no-shutdown: a server that gives up on a half-closed client still delivers its whole answer: exit 0, 4 MiB (TLS 1.3 and 1.2, -s and -S)', async () => {
  for (const version of ['TLSv1.3', 'TLSv1.2']) {
    for (const flag of ['-s', '-S']) {
      const seen = { clientEnded: false, finished: false };
      const server = await tlsServer(impatient(seen));
      try {
        const r = await runWithSocket(server.port, [flag, '--no-shutdown', `--max-protocol=${version}`, ...K, '6', '7'], {
          env: { CAFILE: root.certPath },
          stdin: 'GET /big HTTP/1.0\r\n\r\n',
        });
        assert.equal(r.code, 0, `${version} ${flag}: ${r.stderr}`);
        assert.equal(r.stderr, '');
        assert.equal(r.stdout.length, big.length, `${version} ${flag}`);
        assert.equal(sha256(r.stdout), sha256(big));
        assert.equal(seen.finished, true);
      } finally {
        server.close();
      }
    }
  }
});

test('without --no-shutdown, -j: a server that drops the connection after our half-close gets a warning naming --no-shutdown and -J', async () => {
  const seen = { clientEnded: false, finished: false };
  const server = await tlsServer(impatient(seen));
  try {
    const r = await runWithSocket(server.port, ['--max-protocol=TLSv1.2', ...K, '6', '7'], {
      env: { CAFILE: root.certPath },
      stdin: 'GET /big HTTP/1.0\r\n\r\n',
    });
    // The server saw our FIN; it either finished first (all 4 MiB, close_notify)
    // or dropped the connection: then the answer is short and we say so.
    assert.equal(seen.clientEnded, true);
    if (r.stdout.length < big.length) {
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stderr, /^s6-tlsc-io: warning: the server ended without close_notify while its answer was still coming after our half-close: .*--no-shutdown.*-J/);
      assert.doesNotMatch(r.stderr, /nginx/, 'the warning names no server');
    } else {
      assert.equal(r.code, 0, r.stderr);
    }
    assert.ok(big.subarray(0, r.stdout.length).equals(r.stdout), 'a prefix of the answer, in order');
  } finally {
    server.close();
  }
});

test('--no-shutdown -J: the server ends with close_notify: exit 0; without it: 98', async () => {
  // Ended once the reply is out: ended with a write in flight, Node's TLS
  // socket may send its FIN before its close_notify (see soak/soak.ts).
  const withNotify = await tlsServer((tls) => tls.on('data', () => tls.write(reply, () => tls.end())));
  const without = await tlsServer((tls, raw) => tls.on('data', () => tls.write(reply, () => raw.end())));
  try {
    const ok = await runWithSocket(withNotify.port, ['-J', '--no-shutdown', ...K, '6', '7'], { env: { CAFILE: root.certPath }, stdin: 'hello' });
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal(sha256(ok.stdout), sha256(reply));
    const cut = await runWithSocket(without.port, ['-J', '--no-shutdown', ...K, '6', '7'], { env: { CAFILE: root.certPath }, stdin: 'hello' });
    assert.equal(cut.code, 98, cut.stderr);
    assert.equal(sha256(cut.stdout), sha256(reply));
  } finally {
    withNotify.close();
    without.close();
  }
});

// A server that streams until the client ends (a log follower): it is never
// quiet, so our end goes out at the end bound, and the session ends. (On a
// loaded machine its stream may pause long enough for the quiet wait to send
// our end first: the test holds either way.) It answers our end with its
// own: close_notify (a clean end, exit 0 under -J too) or a last piece and a
// bare FIN (exit 0 under -j with the warning: its stream was coming after our
// end; 98 under -J).
function streaming(endWith: 'close_notify' | 'fin', seen: { clientEnded: boolean }) {
  return (tls: TLSSocket, raw: Socket): void => {
    const piece = Buffer.alloc(16 * 1024, 'y');
    let ended = false;
    const send = (): void => {
      if (ended || raw.destroyed) return;
      tls.write(piece, () => setTimeout(send, 1));
    };
    send();
    tls.on('data', () => undefined);
    tls.on('end', () => {
      seen.clientEnded = true;
      ended = true;
      if (endWith === 'close_notify') tls.end();
      else tls.write(piece, () => raw.end());
    });
  };
}

for (const version of ['TLSv1.2', 'TLSv1.3']) {
  for (const [flag, endWith, code, warned] of [
    ['-s', 'close_notify', 0, false],
    ['-J', 'close_notify', 0, false],
    ['-s', 'fin', 0, true],
    ['-J', 'fin', 98, false],
  ] as const) {
    test(`a server streaming until the client ends, stdin empty, ${version} ${flag}, it answers our end with ${endWith}: the session ends (exit ${code})`, async (t) => {
      const seen = { clientEnded: false };
      const server = await tlsServer(streaming(endWith, seen));
      try {
        const r = await runWithSocket(server.port, [flag, `--max-protocol=${version}`, ...K, '6', '7'], {
          env: { CAFILE: root.certPath },
          stdin: '',
          // Generous: the end bound is 3 s; a loaded machine must not fail this.
          timeoutMs: 30_000,
        });
        t.diagnostic(`ended after ${r.elapsed} ms, ${r.stdout.length} bytes received`);
        assert.equal(seen.clientEnded, true, 'the server saw our end');
        assert.equal(r.code, code, r.stderr);
        assert.ok(r.stdout.length > 0);
        assert.ok(r.stdout.equals(Buffer.alloc(r.stdout.length, 'y')), 'the stream, in order');
        if (code === 98) assert.equal(r.stderr, 's6-tlsc-io: fatal: remote closed connection without a close_notify\n');
        else if (warned) assert.match(r.stderr, /^s6-tlsc-io: warning: the server ended without close_notify while its answer was still coming after our half-close: .*--no-shutdown.*-J.*\n$/);
        else assert.equal(r.stderr, '');
      } finally {
        server.close();
      }
    });
  }
}

test('no warning where nothing was cut: prog sends nothing, the server answers our FIN with its own (TLS 1.2, -s)', async () => {
  const server = await tlsServer((tls, raw) => {
    tls.on('data', () => undefined);
    tls.on('end', () => raw.end());
  });
  try {
    const r = await runWithSocket(server.port, ['--max-protocol=TLSv1.2', ...K, '6', '7'], { env: { CAFILE: root.certPath }, stdin: '' });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr, '');
    assert.equal(r.stdout.length, 0);
  } finally {
    server.close();
  }
});

test('no warning where nothing was cut: an answer complete before our FIN, the server ends without close_notify (TLS 1.2, -s)', async () => {
  const server = await tlsServer((tls, raw) => {
    tls.once('data', () => tls.write(reply));
    tls.on('end', () => raw.end());
  });
  try {
    const r = await runWithSocket(server.port, ['--max-protocol=TLSv1.2', ...K, '6', '7'], { env: { CAFILE: root.certPath }, stdin: 'hello' });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr, '');
    assert.equal(sha256(r.stdout), sha256(reply));
  } finally {
    server.close();
  }
});

test('no warning where nothing was cut: openssl s_server on TLS 1.2, -s', async () => {
  const s = await startOpensslServer(['-tls1_2', '-quiet', '-cert', leaf.certPath, '-key', leaf.keyPath]);
  try {
    const r = await runWithSocket(s.port, [...K, '6', '7'], { env: { CAFILE: root.certPath }, stdin: 'hello\n' });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr, '');
    s.process.kill();
    assert.match(await s.output, /hello/, 'the server got the request');
  } finally {
    s.process.kill();
  }
});
