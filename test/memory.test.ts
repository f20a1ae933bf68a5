// Memory during a bulk transfer: backpressure bounds what is in flight, and
// a minor collection every MiB (the launcher's --expose-gc, src/node-internals.ts
// minorGc) bounds the dead buffers V8 would otherwise keep (~50 MiB).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'child_process';
import { randomBytes } from 'crypto';
import { Pki, Cert, serverPki, K } from './helpers/pki';
import { BIN, runWithSocket, sha256 } from './helpers/harness';
import { startTlsServer } from './helpers/servers';
import { minorGc } from '../src/node-internals';

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

test('minorGc: a collection where gc is exposed, a no-op where it is not', () => {
  assert.equal(typeof minorGc(), 'function');
  const withGc = spawnSync('node', ['--expose-gc', '-e', `require(${JSON.stringify(require.resolve('../src/node-internals'))}).minorGc()(); console.log(typeof gc)`], { encoding: 'utf8' });
  assert.equal(withGc.status, 0, withGc.stderr);
  assert.equal(withGc.stdout.trim(), 'function');
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
