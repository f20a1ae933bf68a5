// Which CADIR file names the rule takes (src/trust/credentials.ts): hhhhhhhh.N only
// when .0 to .(N-1) of the same hash are all there, as OpenSSL reads them.
// Many files under one hash must not cost the square of their number: the
// time is in the report of the change, not asserted here; the result on a
// directory that large is.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { reachableHashedNames } from '../src/trust/credentials';

test('names: .0 upward without a gap are taken, the rest and other names are left out', () => {
  const r = reachableHashedNames(['README', 'abcdef01.1', 'abcdef01.0', 'abcdef01.3', '12345678.1', 'ABCDEF01.0', 'abcdef01.r0', 'abcdef01.01', 'x.pem']);
  assert.deepEqual(r.names, [
    { name: 'abcdef01.0', hash: 'abcdef01' },
    { name: 'abcdef01.1', hash: 'abcdef01' },
  ]);
  // abcdef01.3 (after a gap), 12345678.1 (no .0), ABCDEF01.0, .r0 and .01: hash-like, left out.
  assert.equal(r.leftOut, true);
  assert.equal(reachableHashedNames(['abcdef01.0', 'abcdef01.1', '12345678.0']).leftOut, false);
});

test('16000 files of one hash: all taken in order; with a gap, exactly those below it', () => {
  const count = 16000;
  const all = Array.from({ length: count }, (_, n) => `0badc0de.${n}`).reverse();
  const full = reachableHashedNames([...all, 'feedbeef.0']);
  assert.equal(full.names.length, count + 1);
  assert.equal(full.leftOut, false);
  assert.deepEqual(new Set(full.names.map((n) => n.name)), new Set([...all, 'feedbeef.0']));
  const gap = 8000;
  const withGap = reachableHashedNames(all.filter((name) => name !== `0badc0de.${gap}`));
  assert.equal(withGap.names.length, gap);
  assert.ok(withGap.names.every(({ name }) => Number(name.split('.')[1]) < gap));
  assert.equal(withGap.leftOut, true);
});
