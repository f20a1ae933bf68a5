// End to end: usage errors and environment errors, each with its exit code
// and its one line (SPEC sections 2, 3 and 7).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync, chmodSync } from 'fs';
import { Pki, Cert } from './helpers/pki';
import { BIN, runWithStdio } from './helpers/harness';

const SYNOPSIS =
  's6-tlsc-io [ -S | -s ] [ -J | -j ] [ -Y | -y ] [ -v verbosity ] [ -K kimeout ] [ -k servername ] [ -d notif ] [ -- ] fdr fdw';

let pki: Pki;
let root: Cert;
before(() => {
  pki = new Pki();
  root = pki.cert('root', { ca: true });
});
after(() => pki.remove());

async function run(args: string[], env: Record<string, string | undefined> = {}) {
  // Every case here fails before the network descriptors are used; those
  // that get that far name fds 60 and 61, which are never open.
  return runWithStdio(args, ['pipe', 'pipe', 'pipe'], { env: { CAFILE: root.certPath, ...env }, timeoutMs: 10000 });
}

// Each line names what was wrong first, then gives the synopsis (SPEC section 8).
const usageCases: [string, string[], string][] = [
  ['no operand', [], 'missing fdr and fdw'],
  ['one operand', ['6'], 'missing fdw'],
  ['non-numeric fdr', ['x', '7'], 'fdr and fdw must be unsigned integers'],
  ['non-numeric fdw', ['6', '7x'], 'fdr and fdw must be unsigned integers'],
  ['negative operand', ['-6', '7'], 'unknown option -6'],
  ['unknown short option', ['-q', '6', '7'], 'unknown option -q'],
  ['unknown long option', ['--frobnicate', '6', '7'], 'unknown option --frobnicate'],
  ['a long option misspelt', ['--servernam=x', '6', '7'], 'unknown option --servernam'],
  ['option value missing at the end', ['-k'], 'option -k requires a value'],
  ['-k followed by --', ['-k', '--', '6', '7'], 'option -k requires a value'],
  ['long option with a value it does not take', ['--close-notify=yes', '6', '7'], 'option --close-notify takes no value'],
  ['--help with a value', ['--help=all', '6', '7'], 'option --help takes no value'],
  ['long option without its =value', ['--servername', 'a.example', '6', '7'], 'option --servername requires a value (--servername=value)'],
];

for (const [label, args, culprit] of usageCases) {
  test(`usage error: ${label} -> 100 and one line naming it, then the synopsis`, async () => {
    const r = await run(args);
    assert.equal(r.code, 100);
    assert.equal(r.stderr, `s6-tlsc-io: usage: ${culprit}: ${SYNOPSIS}\n`);
    assert.equal(r.stdout.length, 0);
  });
}

// A bad value is a usage error too: the option named first, then the synopsis
// (SPEC section 8). Only what the environment lacks or holds wrong is a fatal line.
const badValues: [string, string[], string][] = [
  ['-v', ['-v', 'x', '6', '7'], 'verbosity must be an unsigned integer'],
  ['--verbosity', ['--verbosity=-1', '6', '7'], 'verbosity must be an unsigned integer'],
  ['-K', ['-K1s', '6', '7'], 'kimeout must be an unsigned integer'],
  ['-d', ['-d', '3x', '6', '7'], 'notification-fd must be an unsigned integer'],
  ['-d on fdw', ['-d', '7', '6', '7'], 'notification-fd 7 is stdout, fdr or fdw: the report would go into the data stream'],
  ['-k', ['-k', 'bad name', '6', '7'], 'invalid servername: "bad name"'],
  ['--min-protocol', ['--min-protocol=TLSv1.4', '6', '7'], 'min-protocol must be one of TLSv1, TLSv1.1, TLSv1.2, TLSv1.3'],
  ['--max-protocol', ['--max-protocol=tls1.3', '6', '7'], 'max-protocol must be one of TLSv1, TLSv1.1, TLSv1.2, TLSv1.3'],
  ['--min-protocol above --max-protocol', ['--min-protocol=TLSv1.3', '--max-protocol=TLSv1.2', '6', '7'], 'min-protocol must not be above max-protocol'],
  ['--alpn', ['--alpn=h2,,http/1.1', '6', '7'], 'alpn must be a comma-separated list of protocol names'],
  ['--groups', ['--groups=X25519,P-256', '6', '7'], 'groups must be a colon-separated list of group names (e.g. X25519MLKEM768:X25519)'],
  ['--pin', ['--pin=SHA256:abc', '6', '7'], 'invalid pin: "SHA256:abc" (SHA256: and 64 hex digits)'],
];
for (const [label, args, culprit] of badValues) {
  test(`bad value for ${label} -> 100, a usage line naming it`, async () => {
    const r = await run(args);
    assert.equal(r.code, 100);
    assert.equal(r.stderr, `s6-tlsc-io: usage: ${culprit}: ${SYNOPSIS}\n`);
  });
}

test('grouped options, values glued or separate, -- and extra operands are accepted', async () => {
  // These parse; they then fail at fd 60 (not open), which proves parsing passed.
  for (const args of [
    ['-Sjv2', '-kexample.org', '60', '61'],
    ['-S', '-s', '-K', '100', '-k', 'a.example', '--', '60', '61', 'extra', 'operands'],
    ['--close-notify', '--servername=example.org', '--handshake-timeout=5', '--notification-fd=9', '60', '61'],
  ]) {
    const r = await run(args);
    assert.equal(r.code, 111, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, /^s6-tlsc-io: fatal: fd 60 is not open: run me under a TCP client such as tcpclient or s6-tcpclient\n$/);
  }
});

test('CADIR and CAFILE both unset -> 100', async () => {
  const r = await run(['60', '61'], { CAFILE: undefined });
  assert.equal(r.code, 100);
  assert.equal(r.stderr, 's6-tlsc-io: fatal: CADIR or CAFILE not set\n');
});

test('--no-verify-cert does not lift the CADIR/CAFILE requirement', async () => {
  const r = await run(['--no-verify-cert', '60', '61'], { CAFILE: undefined });
  assert.equal(r.code, 100);
});

test('trust anchors that cannot be read -> 111; that are not certificates -> 96', async () => {
  const missingDir = await run(['60', '61'], { CAFILE: undefined, CADIR: '/nonexistent/x' });
  assert.equal(missingDir.code, 111);
  assert.equal(missingDir.stderr, 's6-tlsc-io: fatal: unable to read trust anchors in /nonexistent/x: No such file or directory\n');
  const missingFile = await run(['60', '61'], { CAFILE: '/nonexistent/ca.pem' });
  assert.equal(missingFile.code, 111);
  assert.match(missingFile.stderr, /^s6-tlsc-io: fatal: unable to read trust anchors in \/nonexistent\/ca\.pem: No such file or directory\n$/);

  const garbage = pki.path('garbage.pem');
  writeFileSync(garbage, 'this is not a certificate\n');
  const notCert = await run(['60', '61'], { CAFILE: garbage });
  assert.equal(notCert.code, 96);
  assert.match(notCert.stderr, /^s6-tlsc-io: fatal: no valid trust anchor in .*garbage\.pem\n$/);

  const emptyDir = pki.path('empty-cadir');
  mkdirSync(emptyDir);
  writeFileSync(`${emptyDir}/README`, 'not a hashed name, not read');
  const empty = await run(['60', '61'], { CAFILE: undefined, CADIR: emptyDir });
  assert.equal(empty.code, 96);
  assert.match(empty.stderr, /^s6-tlsc-io: fatal: no trust anchor found in /);

  const badDir = pki.path('bad-cadir');
  mkdirSync(badDir);
  writeFileSync(`${badDir}/0123abcd.0`, Buffer.from([0x30, 0x03, 0x02, 0x01, 0x01]));
  const bad = await run(['60', '61'], { CAFILE: undefined, CADIR: badDir });
  assert.equal(bad.code, 96);
  assert.match(bad.stderr, /^s6-tlsc-io: fatal: invalid trust anchor .*0123abcd\.0: not a certificate\n$/);
});

test('-y without CERTFILE or KEYFILE -> 100 naming it; unreadable -> 111; undecodable or mismatched -> 96', async () => {
  const other = pki.cert('other', { ca: true });
  const noCert = await run(['-y', '60', '61'], { KEYFILE: root.keyPath });
  assert.equal(noCert.code, 100);
  assert.equal(noCert.stderr, 's6-tlsc-io: fatal: CERTFILE not set\n');
  const noKey = await run(['-y', '60', '61'], { CERTFILE: root.certPath });
  assert.equal(noKey.code, 100);
  assert.equal(noKey.stderr, 's6-tlsc-io: fatal: KEYFILE not set\n');
  const unreadable = await run(['-y', '60', '61'], { CERTFILE: root.certPath, KEYFILE: '/nonexistent/key' });
  assert.equal(unreadable.code, 111);
  assert.match(unreadable.stderr, /^s6-tlsc-io: fatal: unable to read private key \/nonexistent\/key: No such file or directory\n$/);
  const garbageKey = pki.path('garbage.key');
  writeFileSync(garbageKey, '-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n');
  const undecodable = await run(['-y', '60', '61'], { CERTFILE: root.certPath, KEYFILE: garbageKey });
  assert.equal(undecodable.code, 96);
  assert.match(undecodable.stderr, /^s6-tlsc-io: fatal: unable to decode private key in /);
  const mismatch = await run(['-y', '60', '61'], { CERTFILE: root.certPath, KEYFILE: other.keyPath });
  assert.equal(mismatch.code, 96);
  assert.match(mismatch.stderr, /^s6-tlsc-io: fatal: unable to use the client certificate and key: .*key values mismatch/);
  // -Y (the default) ignores both variables entirely.
  const ignored = await run(['60', '61'], { CERTFILE: '/nonexistent', KEYFILE: '/nonexistent' });
  assert.equal(ignored.code, 111);
  assert.match(ignored.stderr, /fd 60 is not open/);
});

test('a file that cannot be read for lack of permission -> 111', async () => {
  const locked = pki.path('locked.pem');
  writeFileSync(locked, root.certPem);
  chmodSync(locked, 0);
  chmodSync(pki.dir, 0o755);
  // Root reads everything: as root, run the program without the two
  // capabilities that let it (setpriv), still as root, so that it can reach
  // the clone wherever it is (another user may not: a clone under /root).
  const withoutDacCaps = ['--inh-caps=-dac_override,-dac_read_search', '--bounding-set=-dac_override,-dac_read_search', BIN];
  const r =
    process.getuid?.() === 0
      ? await runWithStdio([...withoutDacCaps, '60', '61'], ['pipe', 'pipe', 'pipe'], { env: { CAFILE: locked }, bin: '/usr/bin/setpriv' })
      : await runWithStdio(['60', '61'], ['pipe', 'pipe', 'pipe'], { env: { CAFILE: locked } });
  assert.equal(r.code, 111);
  assert.match(r.stderr, /^s6-tlsc-io: fatal: unable to read trust anchors in .*locked\.pem: Permission denied\n$/);
});

test('TLS_UID or TLS_GID not a number -> 100 (as root)', async () => {
  const uid = await run(['60', '61'], { TLS_UID: 'nobody' });
  const gid = await run(['60', '61'], { TLS_GID: '12x' });
  if (process.getuid?.() === 0) {
    assert.equal(uid.code, 100);
    assert.equal(uid.stderr, 's6-tlsc-io: fatal: invalid $TLS_UID\n');
    assert.equal(gid.code, 100);
    assert.equal(gid.stderr, 's6-tlsc-io: fatal: invalid $TLS_GID\n');
  } else {
    // Not root: the variables are ignored, and the run goes on to fd 60.
    assert.equal(uid.code, 111);
    assert.equal(gid.code, 111);
  }
});

