// End to end: how a session ends (SPEC section 6), and that nothing is lost.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'crypto';
import { Pki, Cert, serverPki, K } from './helpers/pki';
import { runWithSocket, sha256 } from './helpers/harness';
import { startTlsServer, startObserver, startRawServer } from './helpers/servers';
import type { TLSSocket } from 'tls';

let pki: Pki;
let root: Cert;
let leaf: Cert;

before(() => ({ pki, root, leaf } = serverPki()));
after(() => pki.remove());

// Local EOF: what the server observes (clean = close_notify before TCP EOF),
// and the server's whole reply, sent after it saw our EOF, still arrives.
for (const [max, flag, expected] of [
  ['TLSv1_3', '-s', 'clean'],
  ['TLSv1_3', '-S', 'clean'],
  ['TLSv1_2', '-s', 'ragged'],
  ['TLSv1_2', '-S', 'clean'],
] as const) {
  test(`local EOF on ${max.replace('_', '.')} with ${flag}: the server sees a ${expected} end and its whole reply arrives`, async () => {
    const observer = await startObserver({ cert: leaf.certPath, key: leaf.keyPath, max, reply: 300_000, close_notify: true });
    const request = randomBytes(200_000);
    const r = await runWithSocket(observer.port, [flag, ...K, '6', '7'], { env: { CAFILE: root.certPath }, stdin: request });
    const seen = await observer.result;
    assert.equal(seen.error, null);
    assert.equal(seen.client_end, expected);
    assert.equal(seen.received, request.length);
    assert.equal(seen.sha256, sha256(request));
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.length, 300_000);
  });
}

// Remote end without close_notify: a normal end under -j, fatal under -J.
for (const closeNotify of [true, false]) {
  for (const flag of ['-j', '-J']) {
    const fatal = flag === '-J' && !closeNotify;
    test(`server closes ${closeNotify ? 'with' : 'without'} close_notify under ${flag}: ${fatal ? 'exit 98' : 'exit 0'}, the data still arrives`, async () => {
      const observer = await startObserver({
        cert: leaf.certPath, key: leaf.keyPath, reply: 50_000, close_notify: closeNotify, wait_client_eof: false,
      });
      const r = await runWithSocket(observer.port, [flag, ...K, '6', '7'], { env: { CAFILE: root.certPath }, keepStdinOpen: true });
      await observer.result;
      assert.equal(r.stdout.length, 50_000);
      if (fatal) {
        assert.equal(r.code, 98);
        assert.equal(r.stderr, 's6-tlsc-io: fatal: remote closed connection without a close_notify\n');
      } else {
        assert.equal(r.code, 0, r.stderr);
        assert.equal(r.stderr, '');
      }
    });
  }
}

test('the server closing first ends the program while stdin stays open', async () => {
  const server = await startTlsServer({ leaf }, (s: TLSSocket) => s.end('bye\n'));
  try {
    const r = await runWithSocket(server.port, [...K, '6', '7'], { env: { CAFILE: root.certPath }, keepStdinOpen: true, timeoutMs: 5000 });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.toString(), 'bye\n');
  } finally {
    await server.close();
  }
});

for (const version of ['TLSv1.3', 'TLSv1.2'] as const) {
  test(`megabytes both ways at once on ${version}, sha256 equal`, async () => {
    const up = randomBytes(8 * 1024 * 1024);
    const down = randomBytes(8 * 1024 * 1024);
    let serverGot = '';
    const server = await startTlsServer({ leaf, maxVersion: version }, (s: TLSSocket) => {
      const hash = require('crypto').createHash('sha256');
      let received = false;
      let sent = false;
      // The server ends its direction only once both are done: a remote end
      // would (rightly) stop the client before its upload is complete.
      const maybeEnd = (): void => {
        if (received && sent) s.end();
      };
      s.on('data', (c: Buffer) => hash.update(c));
      s.on('end', () => {
        serverGot = hash.digest('hex');
        received = true;
        maybeEnd();
      });
      // Send while receiving, in odd-sized pieces.
      let offset = 0;
      const pump = (): void => {
        while (offset < down.length) {
          const n = Math.min(down.length - offset, 1 + Math.floor(Math.random() * 70_000));
          const ok = s.write(down.subarray(offset, offset + n));
          offset += n;
          if (!ok) return void s.once('drain', pump);
        }
        sent = true;
        maybeEnd();
      };
      pump();
    });
    try {
      const r = await runWithSocket(server.port, [...K, '6', '7'], { env: { CAFILE: root.certPath }, stdin: up, timeoutMs: 60000 });
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout.length, down.length);
      assert.equal(sha256(r.stdout), sha256(down));
      assert.equal(serverGot, sha256(up));
    } finally {
      await server.close();
    }
  });
}

test('server reset mid-stream: exit 111 with one line, what arrived before is intact', async () => {
  const first = randomBytes(100_000);
  const server = await startTlsServer({ leaf }, (s: TLSSocket, raw) => {
    s.write(first, () => setTimeout(() => raw.resetAndDestroy(), 200));
  });
  try {
    const r = await runWithSocket(server.port, [...K, '6', '7'], { env: { CAFILE: root.certPath }, keepStdinOpen: true });
    assert.equal(r.code, 111);
    assert.match(r.stderr, /^s6-tlsc-io: fatal: unable to read from the network: Connection reset by peer\n$/);
    assert.equal(sha256(r.stdout), sha256(first));
  } finally {
    await server.close();
  }
});

test('stdout closed early: the program ends with a one-line error instead of dying on SIGPIPE', async () => {
  const server = await startTlsServer({ leaf }, (s: TLSSocket) => {
    const chunk = Buffer.alloc(65536, 'd');
    const pump = (): void => {
      while (s.write(chunk));
      s.once('drain', pump);
    };
    pump();
    s.on('error', () => undefined);
  });
  try {
    const r = await runWithSocket(server.port, [...K, '6', '7'], {
      env: { CAFILE: root.certPath },
      keepStdinOpen: true,
      onSpawn: (child) => setTimeout(() => child.stdout!.destroy(), 300),
    });
    assert.equal(r.signal, null);
    assert.equal(r.code, 111);
    assert.match(r.stderr, /^s6-tlsc-io: fatal: unable to write to stdout: (Broken pipe|Connection reset by peer)\n$/);
  } finally {
    await server.close();
  }
});

test('-K: a server that never answers the handshake ends in exit 98 within the limit', async () => {
  const server = await startRawServer(() => undefined);
  try {
    const r = await runWithSocket(server.port, ['-K', '300', ...K, '6', '7'], { env: { CAFILE: root.certPath }, keepStdinOpen: true, timeoutMs: 5000 });
    assert.equal(r.code, 98);
    assert.equal(r.stderr, 's6-tlsc-io: fatal: handshake timed out after 300 ms\n');
    // The deadline ended it: at least its time, far less than a minute.
    assert.ok(r.elapsed >= 300 && r.elapsed < 60_000, `took ${r.elapsed} ms`);
  } finally {
    await server.close();
  }
});
