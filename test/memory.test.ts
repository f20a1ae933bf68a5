// Memory during a bulk transfer: backpressure bounds what is in flight, and
// a minor collection every MiB (src/base/node-internals.ts minorGc) bounds the
// dead buffers V8 would otherwise keep (~45 MiB).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'child_process';
import { randomBytes } from 'crypto';
import { Pki, Cert, serverPki, K } from './helpers/pki';
import { BIN, runWithSocket, sha256 } from './helpers/harness';
import { startTlsServer } from './helpers/servers';

let pki: Pki;
let root: Cert;
let leaf: Cert;
before(() => ({ pki, root, leaf } = serverPki()));
after(() => pki.remove());

/** Peak RSS in KiB of a bare node on this runtime: the floor. */
function nodeFloorKiB(): number {
  const r = spawnSync('/usr/bin/time', ['-f', '%M', 'node', '-e', '0'], { encoding: 'utf8' });
  return Number(r.stderr.trim().split('\n').pop());
}

test('minorGc: V8\'s gc is reached at run time, without --expose-gc on the command line', () => {
  const script = `const c = require(${JSON.stringify(require.resolve('../src/base/node-internals'))}).minorGc(); c(); c(); console.log(typeof require('vm').runInNewContext('gc'))`;
  const r = spawnSync('node', ['-e', script], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout.trim(), 'function', 'V8 no longer exposes gc after --expose-gc is set at run time: see src/base/node-internals.ts minorGc');
});

test('a 64 MiB download through the real program stays within 35 MiB of a bare node', async () => {
  const payload = randomBytes(1024 * 1024);
  const server = await startTlsServer({ leaf }, (s) => {
    let left = 64;
    const send = (): void => {
      while (left > 0) {
        left--;
        if (!s.write(payload)) return void s.once('drain', send);
      }
      s.end();
    };
    send();
  });
  try {
    const r = await runWithSocket(server.port, ['-f', '%M', BIN, ...K, '6', '7'], { bin: '/usr/bin/time', env: { CAFILE: root.certPath }, keepStdinOpen: true, timeoutMs: 60000 });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.length, 64 * payload.length);
    assert.equal(sha256(r.stdout.subarray(0, payload.length)), sha256(payload));
    const peakKiB = Number(r.stderr.trim().split('\n').pop());
    const floorKiB = nodeFloorKiB();
    assert.ok(peakKiB - floorKiB < 35 * 1024, `peak ${peakKiB} KiB, floor ${floorKiB} KiB`);
  } finally {
    await server.close();
  }
});
