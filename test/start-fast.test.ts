// The start-up shortcuts of bin/s6-tlsc-io (its shebang runs Node with
// --use-openssl-ca and without NODE_EXTRA_CA_CERTS; CADIR of roots is looked
// up lazily by OpenSSL). Run the way users run it: the executable itself, so
// the shebang applies, with a real TCP socket at fds 6 and 7. Whatever the
// path taken, exactly CADIR's or CAFILE's anchors are trusted.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync, StdioOptions } from 'child_process';
import { mkdirSync, readdirSync, symlinkSync, writeFileSync } from 'fs';
import { connect } from 'net';
import { join } from 'path';
import { Pki, Cert } from './helpers/pki';
import { BIN, REPO, RunResult, cleanEnv, waitFor } from './helpers/harness';
import { startTlsServer, echo, RunningServer } from './helpers/servers';

let pki: Pki;
let root: Cert;
let inter: Cert;
let leaf: Cert;
let other: Cert;
let server: RunningServer;

before(async () => {
  pki = new Pki();
  root = pki.cert('root', { ca: true, cn: 'Fast Root' });
  inter = pki.cert('inter', { ca: true, issuer: root, cn: 'Fast Intermediate' });
  leaf = pki.cert('leaf', { issuer: inter, cn: 'fast.example.test', dns: ['fast.example.test'] });
  other = pki.cert('other', { ca: true, cn: 'Other Root' });
  server = await startTlsServer({ leaf, chain: [inter] }, echo);
});
after(async () => {
  await server.close();
  pki.remove();
});

/** Executes bin/s6-tlsc-io itself (not `node bin/...`), the socket at fds 6 and 7. */
function runDirect(args: string[], env: Record<string, string>, stdin: string): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const socket = connect({ port: server.port, host: '127.0.0.1' });
    socket.once('error', reject);
    socket.once('connect', () => {
      const stdio: StdioOptions = ['pipe', 'pipe', 'pipe', 'ignore', 'ignore', 'ignore', socket, socket];
      const started = Date.now();
      const child = spawn(BIN, args, { stdio, env: cleanEnv(env) });
      socket.destroy();
      waitFor(child, started, { stdin }).then(resolve, reject);
    });
  });
}

/** A CADIR like the system's: every entry of /etc/ssl/certs, plus `extra` under their hash names. */
function systemLikeDir(name: string, extra: Cert[]): string {
  const dir = pki.caDir(name, extra);
  for (const entry of readdirSync('/etc/ssl/certs')) {
    if (!readdirSync(dir).includes(entry)) symlinkSync(join('/etc/ssl/certs', entry), join(dir, entry));
  }
  return dir;
}

const HAVE_SYSTEM_CERTS = (() => {
  try {
    return readdirSync('/etc/ssl/certs').some((n) => /^[0-9a-f]{8}\.0$/.test(n));
  } catch {
    return false;
  }
})();

test('the lazy CADIR path is taken only for a program process started on CADIR (--use-openssl-ca, SSL_CERT_FILE=/dev/null, SSL_CERT_DIR=CADIR, no NODE_EXTRA_CA_CERTS), and only for a directory both ways read alike', () => {
  const credentials = join(REPO, 'dist', 'src', 'trust', 'credentials.js');
  const probe = (dir: string, flags: string[], env: Record<string, string> = { SSL_CERT_FILE: '/dev/null', SSL_CERT_DIR: dir }, processStore = true): string =>
    execFileSync(process.execPath, [...flags, '-e', `process.stdout.write(String(require(${JSON.stringify(credentials)}).loadCredentials({ kind: 'dir', path: ${JSON.stringify(dir)} }, undefined, { processStore: ${processStore} }).anchorDir))`], {
      env: cleanEnv(env),
      stdio: ['ignore', 'pipe', 'pipe'],
    }).toString();
  const roots = pki.caDir('probe-roots', [root, other]);
  assert.equal(probe(roots, ['--use-openssl-ca']), roots);
  assert.equal(probe(roots, ['--use-openssl-ca'], { SSL_CERT_FILE: '/dev/null', SSL_CERT_DIR: roots }, false), 'undefined', 'a library call');
  assert.equal(probe(roots, []), 'undefined');
  assert.equal(probe(roots, ['--use-openssl-ca'], { SSL_CERT_DIR: roots }), 'undefined');
  assert.equal(probe(roots, ['--use-openssl-ca'], { SSL_CERT_FILE: '/dev/null', SSL_CERT_DIR: pki.caDir('probe-other', [other]) }), 'undefined');
  assert.equal(probe(roots, ['--use-openssl-ca'], { SSL_CERT_FILE: '/dev/null', SSL_CERT_DIR: roots, NODE_EXTRA_CA_CERTS: other.certPath }), 'undefined');
  // Intermediates in CADIR are fine both ways (partial chains); DER and junk are not read alike.
  const inter2 = pki.caDir('probe-inter', [root, inter]);
  assert.equal(probe(inter2, ['--use-openssl-ca']), inter2);
  assert.equal(probe(pki.caDir('probe-der', [root], 'der'), ['--use-openssl-ca']), 'undefined');
  const junk = pki.caDir('probe-junk', [root]);
  writeFileSync(join(junk, '0badc0de.0'), 'not a certificate\n');
  assert.throws(() => probe(junk, ['--use-openssl-ca']));
  const empty = pki.path('probe-empty');
  mkdirSync(empty);
  assert.throws(() => probe(empty, ['--use-openssl-ca']));
});

test('run directly: CADIR of roots (lazy), intermediates and DER (full path), CAFILE; names still checked', async () => {
  const cases: [string, Record<string, string>][] = [
    ['CADIR PEM roots', { CADIR: pki.caDir('roots', [other, root]) }],
    ['intermediate anchor in CADIR, PEM', { CADIR: pki.caDir('inter-pem', [inter]) }],
    ['intermediate anchor in CADIR, DER', { CADIR: pki.caDir('inter-der', [inter], 'der') }],
    ['CAFILE', { CAFILE: root.certPath }],
  ];
  if (HAVE_SYSTEM_CERTS) cases.push(['system CADIR plus our root', { CADIR: systemLikeDir('system-plus', [root]) }]);
  for (const [label, env] of cases) {
    const r = await runDirect(['-k', 'fast.example.test', '6', '7'], env, label);
    assert.equal(r.code, 0, `${label}: ${r.stderr}`);
    assert.equal(r.stdout.toString(), label);
  }
  const wrong = await runDirect(['-k', 'wrong.example.test', '6', '7'], { CADIR: pki.caDir('roots-2', [root]) }, 'x');
  assert.equal(wrong.code, 98);
  assert.match(wrong.stderr, /hostname mismatch: wrong\.example\.test/);
});

test('run directly: no anchor gets in from NODE_EXTRA_CA_CERTS, SSL_CERT_FILE or SSL_CERT_DIR', async () => {
  const elsewhere = pki.caDir('elsewhere', [root]);
  const foreign = { NODE_EXTRA_CA_CERTS: root.certPath, SSL_CERT_FILE: root.certPath, SSL_CERT_DIR: elsewhere };
  const cases: [string, Record<string, string>][] = [
    ['CADIR without our root', { ...foreign, CADIR: pki.caDir('without', [other]) }],
    ['CAFILE without our root', { ...foreign, CAFILE: other.certPath }],
  ];
  if (HAVE_SYSTEM_CERTS) cases.push(['system CADIR', { ...foreign, CADIR: '/etc/ssl/certs' }]);
  for (const [label, env] of cases) {
    const r = await runDirect(['-k', 'fast.example.test', '6', '7'], env, label);
    assert.equal(r.code, 98, `${label}: ${r.stderr}`);
    assert.match(r.stderr, /^s6-tlsc-io: fatal: certificate verification failed: /, label);
  }
});
