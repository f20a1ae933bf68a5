// Fault injection, local side: the application's stdout closed early or slow,
// stdin endless or closed, fdr/fdw/notification descriptors closed or wrong.
// For every case: the exit code of SPEC section 7, exactly one "fatal:" line
// naming the cause (none for a normal end), no stack trace, an end (a hang
// fails; speed is the bench's), and every byte that could be delivered was, in order.

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, createHash } from 'crypto';
import { spawn, execFileSync, StdioOptions } from 'child_process';
import { promises as fsp } from 'fs';
import { connect } from 'net';
import { mkdtempSync, writeFileSync, rmSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import type { TLSSocket } from 'tls';
import { Pki, Cert, serverPki, K } from './helpers/pki';
import { BIN, cleanEnv, runWithSocket, sha256, waitFor, RunResult, RunOptions } from './helpers/harness';
import { startTlsServer } from './helpers/servers';
import { expectEnd, rssKiB } from './helpers/hostile';

let pki: Pki;
let root: Cert;
let leaf: Cert;
let dir: string;

before(() => {
  ({ pki, root, leaf } = serverPki());
  dir = mkdtempSync(join(tmpdir(), 's6-tlsc-io-faults-'));
});
after(() => {
  pki.remove();
  rmSync(dir, { recursive: true, force: true });
});

/** A server that sends `payload` and ends with close_notify once the client has ended (or at once). */
function replier(payload: Buffer, opts: { afterClientEof?: boolean; received?: (hash: string, n: number) => void } = {}) {
  return (s: TLSSocket): void => {
    const hash = createHash('sha256');
    let n = 0;
    s.on('data', (c: Buffer) => {
      hash.update(c);
      n += c.length;
    });
    s.on('error', () => undefined);
    const send = (): void => void s.end(payload);
    const onEnd = (): void => {
      opts.received?.(hash.digest('hex'), n);
      if (opts.afterClientEof) send();
    };
    // A client with nothing to send ends right after its Finished: Node's
    // server may have emitted 'end' before handing over the socket.
    if (s.readableEnded) onEnd();
    else s.on('end', onEnd);
    if (!opts.afterClientEof) send();
  };
}

async function withServer<T>(handler: (s: TLSSocket) => void, body: (port: number) => Promise<T>): Promise<T> {
  const server = await startTlsServer({ leaf }, handler);
  try {
    return await body(server.port);
  } finally {
    await server.close();
  }
}

/** Spawns the program through sh, for descriptors Node cannot leave closed (`<&-`). */
function runThroughShell(port: number, shellRedirs: string, args: string[], opts: RunOptions = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const socket = connect({ port, host: '127.0.0.1' });
    socket.once('error', reject);
    socket.once('connect', () => {
      const stdio: StdioOptions = ['pipe', 'pipe', 'pipe', 'ignore', 'ignore', 'ignore', socket, socket];
      const started = Date.now();
      const child = spawn('/bin/sh', ['-c', `exec "$0" "$@" ${shellRedirs}`, process.execPath, BIN, ...args], {
        stdio,
        env: cleanEnv({ CAFILE: root.certPath }),
      });
      socket.destroy();
      waitFor(child, started, { keepStdinOpen: true, timeoutMs: 10_000, ...opts }).then(resolve, reject);
    });
  });
}

describe('stdout', { concurrency: 3 }, () => {
  for (const flag of ['-j', '-J']) {
    test(`closed early (EPIPE), ${flag}: exit 111 "unable to write to stdout", never SIGPIPE`, async () => {
      const chunk = Buffer.alloc(65536, 'd');
      const r = await withServer(
        (s) => {
          s.on('error', () => undefined);
          const pump = (): void => {
            while (!s.destroyed && s.write(chunk));
            if (!s.destroyed) s.once('drain', pump);
          };
          pump();
        },
        (port) =>
          runWithSocket(port, [flag, ...K, '6', '7'], {
            env: { CAFILE: root.certPath },
            keepStdinOpen: true,
            timeoutMs: 10_000,
            onSpawn: (child) => setTimeout(() => child.stdout!.destroy(), 300),
          }),
      );
      expectEnd(r, { code: 111, fatal: /^unable to write to stdout: (Broken pipe|Connection reset by peer)$/ });
    });
  }

  // stdout is a FIFO read 1 KiB every 10 ms (a socketpair, as Node's 'pipe'
  // gives, would hold the whole payload in its kernel buffers).
  test('read slowly (1 KiB every 10 ms): every byte in order, exit 0, memory bounded', async () => {
    const payload = randomBytes(300_000);
    const fifo = join(dir, 'slow-stdout');
    execFileSync('mkfifo', [fifo]);
    let peak = 0;
    let pid = 0;
    const reading = (async (): Promise<Buffer> => {
      const fh = await fsp.open(fifo, 'r');
      const got: Buffer[] = [];
      for (;;) {
        const { bytesRead, buffer } = await fh.read(Buffer.alloc(1024), 0, 1024, null);
        if (bytesRead === 0) break;
        got.push(buffer.subarray(0, bytesRead));
        if (pid) peak = Math.max(peak, rssKiB(pid));
        await new Promise((r) => setTimeout(r, 10));
      }
      await fh.close();
      return Buffer.concat(got);
    })();
    const r = await withServer(replier(payload), (port) =>
      runThroughShell(port, `>${fifo}`, [...K, '6', '7'], { timeoutMs: 15_000, onSpawn: (child) => (pid = child.pid!) }),
    );
    const got = await reading;
    expectEnd(r, { code: 0, fatal: null });
    assert.equal(got.length, payload.length);
    assert.equal(sha256(got), sha256(payload));
    assert.ok(r.elapsed >= 2000, `a slow reader makes it slow (${r.elapsed} ms)`);
    assert.ok(peak < 150 * 1024, `peak RSS ${peak} KiB`);
  });
});

describe('stdin', { concurrency: 3 }, () => {
  for (const flag of ['-j', '-J']) {
    test(`never ends, ${flag}: the server's end ends the program (exit 0); what was read reached the server`, async () => {
      const up = randomBytes(50_000);
      const down = randomBytes(80_000);
      let serverGot = '';
      const r = await withServer(
        (s) => {
          const hash = createHash('sha256');
          let n = 0;
          s.on('error', () => undefined);
          s.on('data', (c: Buffer) => {
            hash.update(c);
            n += c.length;
            if (n === up.length) {
              serverGot = hash.digest('hex');
              s.end(down);
            }
          });
        },
        (port) => runWithSocket(port, [flag, ...K, '6', '7'], { env: { CAFILE: root.certPath }, stdin: up, keepStdinOpen: true, timeoutMs: 10_000 }),
      );
      expectEnd(r, { code: 0, fatal: null });
      assert.equal(serverGot, sha256(up));
      assert.equal(sha256(r.stdout), sha256(down));
    });
  }

  test('closed at once (immediate EOF): the server sees the end and its whole reply arrives (exit 0)', async () => {
    const down = randomBytes(100_000);
    let got = -1;
    const r = await withServer(replier(down, { afterClientEof: true, received: (_h, n) => (got = n) }), (port) =>
      runWithSocket(port, [...K, '6', '7'], { env: { CAFILE: root.certPath }, timeoutMs: 10_000 }),
    );
    expectEnd(r, { code: 0, fatal: null });
    assert.equal(got, 0);
    assert.equal(sha256(r.stdout), sha256(down));
  });

  // Node opens /dev/null on a closed 0, 1 or 2 before any JS runs: a closed
  // stdin is an empty one, and the session ends normally.
  test('not open at all (fd 0 closed): Node makes it /dev/null, an immediate EOF (exit 0)', async () => {
    const r = await withServer(replier(Buffer.from('reply'), { afterClientEof: true }), (port) => runThroughShell(port, '<&-', [...K, '6', '7']));
    expectEnd(r, { code: 0, fatal: null });
    assert.equal(r.stdout.toString(), 'reply');
  });
});

describe('fdr, fdw and the notification descriptor', { concurrency: 3 }, () => {
  // (descriptors above Node's own: it takes low free ones for epoll and signals)
  test('fdr not open: exit 111 naming it', async () => {
    const r = await withServer(replier(Buffer.from('x')), (port) => runWithSocket(port, [...K, '60', '7'], { env: { CAFILE: root.certPath }, timeoutMs: 5000 }));
    expectEnd(r, { code: 111, fatal: /^fd 60 is not open: run me under a TCP client such as tcpclient or s6-tcpclient$/ });
  });
  test('fdw not open: exit 111 naming it', async () => {
    const r = await withServer(replier(Buffer.from('x')), (port) => runWithSocket(port, [...K, '6', '60'], { env: { CAFILE: root.certPath }, timeoutMs: 5000 }));
    expectEnd(r, { code: 111, fatal: /^fd 60 is not open: run me under a TCP client such as tcpclient or s6-tcpclient$/ });
  });
  // (8, not 60: sh's redirections stop at 9, and 60 would be left closed.)
  test('fdw a read-only file: the first write fails, exit 111', async () => {
    const file = join(dir, 'readonly');
    writeFileSync(file, '');
    const r = await withServer(replier(Buffer.from('x')), (port) => runThroughShell(port, `8<${file}`, [...K, '6', '8']));
    expectEnd(r, { code: 111, fatal: /^unable to write to the network: Bad file descriptor$|^.*fdw.*$/ });
  });
  test('fdr a directory: the first read fails, exit 111 or 98 naming it', async () => {
    const r = await withServer(replier(Buffer.from('x')), (port) => runThroughShell(port, `8<${dir}`, [...K, '8', '7']));
    expectEnd(r, { code: r.code === 98 ? 98 : 111, fatal: /Is a directory|EISDIR|fdr/ });
  });

  test('the notification pipe closed by its reader before the handshake ends: exit 111, nothing on stdout', async () => {
    const r = await withServer(replier(randomBytes(1000)), (port) =>
      runWithSocket(port, ['-d', '3', ...K, '6', '7'], {
        env: { CAFILE: root.certPath },
        keepStdinOpen: true,
        timeoutMs: 5000,
        notificationFd: 3,
        onSpawn: (child) => (child.stdio[3] as NodeJS.ReadableStream & { destroy(): void }).destroy(),
      }),
    );
    expectEnd(r, { code: 111, fatal: /^unable to write post-handshake data to fd 3: Broken pipe$/ });
    assert.equal(r.stdout.length, 0, 'no application data before the notification');
  });
  test('the notification descriptor not open: exit 111 naming it', async () => {
    const r = await withServer(replier(randomBytes(1000)), (port) =>
      runWithSocket(port, ['-d', '60', ...K, '6', '7'], { env: { CAFILE: root.certPath }, keepStdinOpen: true, timeoutMs: 5000 }),
    );
    expectEnd(r, { code: 111, fatal: /^unable to use notification fd 60: not open \(the caller left it closed\)$/ });
    assert.equal(r.stdout.length, 0);
  });
});

