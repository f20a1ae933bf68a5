// Trust is exact per context: library calls with different CADIRs and
// CAFILEs, plain tls.connect calls with their own `ca` and with Node's
// defaults, all in one process, each get exactly their anchors, whatever
// the process was started with. And one CADIR rule, whether the program
// reads the anchors up front (as root before a privilege drop) or lets
// OpenSSL look them up lazily: the same files count, the same are ignored.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'fs';
import { join } from 'path';
import { Pki, Cert, K } from './helpers/pki';
import { REPO, runWithSocket, cleanEnv } from './helpers/harness';
import { startTlsServer, echo, RunningServer } from './helpers/servers';
import type { Plan, Step } from './helpers/trust-probe';

const PROBE = join(REPO, 'dist', 'test', 'helpers', 'trust-probe.js');

let pki: Pki;
const roots: Record<string, Cert> = {};
const servers: Record<string, RunningServer> = {};
let inter: Cert;

function subjectHash(cert: Cert): string {
  return execFileSync('openssl', ['x509', '-noout', '-subject_hash', '-in', cert.certPath]).toString().trim();
}

before(async () => {
  pki = new Pki();
  for (const name of ['A', 'B', 'C', 'D', 'F', 'H', 'X']) {
    roots[name] = pki.cert(`root${name}`, { ca: true, cn: `Trust Root ${name}` });
    const leaf = pki.cert(`leaf${name}`, { issuer: roots[name], dns: ['server.test'] });
    servers[name] = await startTlsServer({ leaf }, echo);
  }
  // An intermediate CA as an anchor, its root nowhere.
  inter = pki.cert('interG', { ca: true, issuer: roots.X, cn: 'Trust Intermediate G' });
  servers.G = await startTlsServer({ leaf: pki.cert('leafG', { issuer: inter, dns: ['server.test'] }), chain: [inter] }, echo);
});

after(async () => {
  for (const s of Object.values(servers)) await s.close();
  pki.remove();
});

/** Runs the plan in a process of its own (asynchronously: the servers live in this one). */
function probe(plan: Plan, flags: string[], env: Record<string, string>): Promise<string[]> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [...flags, PROBE, JSON.stringify(plan)], { env: cleanEnv(env), timeout: 60_000 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${err.message}: ${stderr}`));
      else resolve(JSON.parse(stdout) as string[]);
    });
  });
}

const library = (server: string, trust: { cadir: string } | { cafile: string }): Step => ({ kind: 'library', port: servers[server].port, trust });
const connect = (server: string, ca?: string[]): Step => ({ kind: 'connect', port: servers[server].port, ca });

test('one process: two library calls (a CADIR, a CAFILE), tls.connect with its own ca and with the defaults each get exactly their anchors', async () => {
  const cadirA = pki.caDir('only-A', [roots.A]);
  const cadirX = pki.caDir('only-X', [roots.X]);
  const starts: { label: string; flags: string[]; env: Record<string, string>; defaultsTrust: string }[] = [
    { label: 'plain node, NODE_EXTRA_CA_CERTS', flags: [], env: { NODE_EXTRA_CA_CERTS: roots.X.certPath }, defaultsTrust: 'X' },
    { label: 'started as the program is, on another CADIR', flags: ['--use-openssl-ca'], env: { SSL_CERT_FILE: '/dev/null', SSL_CERT_DIR: cadirX }, defaultsTrust: 'X' },
    { label: 'started as the program is, on the first call\'s CADIR', flags: ['--use-openssl-ca'], env: { SSL_CERT_FILE: '/dev/null', SSL_CERT_DIR: cadirA }, defaultsTrust: 'A' },
  ];
  for (const start of starts) {
    const other = start.defaultsTrust === 'X' ? 'A' : 'X';
    const steps: [Step, string][] = [
      [connect(start.defaultsTrust), 'accepted'],
      [connect('B'), 'UNABLE_TO_VERIFY_LEAF_SIGNATURE'],
      [library('A', { cadir: cadirA }), 'accepted'],
      [library('B', { cadir: cadirA }), 'exit 98'],
      [library('X', { cadir: cadirA }), 'exit 98'],
      [library('B', { cafile: roots.B.certPath }), 'accepted'],
      [library('A', { cafile: roots.B.certPath }), 'exit 98'],
      [connect('C', [roots.C.certPath]), 'accepted'],
      [connect('A', [roots.C.certPath]), 'UNABLE_TO_VERIFY_LEAF_SIGNATURE'],
      [connect(start.defaultsTrust), 'accepted'],
      [connect(other), 'UNABLE_TO_VERIFY_LEAF_SIGNATURE'],
      [connect('B'), 'UNABLE_TO_VERIFY_LEAF_SIGNATURE'],
    ];
    const want = steps.map(([, verdict]) => verdict);
    // In order, library first, and all at once.
    const inOrder = await probe({ steps: steps.map(([s]) => s) }, start.flags, start.env);
    assert.deepEqual(inOrder, want, `${start.label}, in order`);
    const libraryFirst = [...steps.slice(2), ...steps.slice(0, 2)];
    assert.deepEqual(await probe({ steps: libraryFirst.map(([s]) => s) }, start.flags, start.env), libraryFirst.map(([, v]) => v), `${start.label}, library first`);
    assert.deepEqual(await probe({ steps: steps.map(([s]) => s), parallel: true }, start.flags, start.env), want, `${start.label}, all at once`);
  }
});

/** Runs the real executable against `server` with CADIR, lazily (no drop) or eagerly (as root, dropping to nobody). */
async function verdict(server: string, cadir: string, mode: 'no drop' | 'root, drop'): Promise<{ code: number | null; stderr: string }> {
  const env: Record<string, string> = { CADIR: cadir };
  if (mode === 'root, drop') Object.assign(env, { TLS_UID: '65534', TLS_GID: '65534' });
  const r = await runWithSocket(servers[server].port, ['-v', '3', ...K, '6', '7'], { env, stdin: 'x' });
  return { code: r.code, stderr: r.stderr };
}

test('one CADIR rule in both modes: gaps, upper case, .rN, misfiled, DER and intermediate anchors are treated alike', async () => {
  assert.equal(process.getuid?.(), 0, 'the test suite runs as root (CI does)');
  const dir = pki.path('rule');
  mkdirSync(dir);
  const put = (name: string, data: string | Buffer): void => writeFileSync(join(dir, name), data);
  const hA = subjectHash(roots.A);
  put(`${hA}.0`, roots.A.certPem); // taken
  put(`${hA}.1`, roots.F.certPem); // F filed under A's hash: ignored
  put(`${subjectHash(roots.B)}.1`, roots.B.certPem); // after a gap (no .0): ignored
  put(`${subjectHash(roots.C).toUpperCase()}.0`, roots.C.certPem); // upper case: ignored
  put(`${subjectHash(roots.D)}.r0`, roots.D.certPem); // a CRL's name: ignored
  put(`${subjectHash(roots.H)}.0`, readFileSync(pki.certDer(roots.H))); // DER: taken
  put(`${subjectHash(inter)}.0`, inter.certPem); // an intermediate: taken, as an anchor
  const want: Record<string, number> = { A: 0, F: 98, B: 98, C: 98, D: 98, H: 0, G: 0 };
  for (const mode of ['no drop', 'root, drop'] as const) {
    for (const [server, code] of Object.entries(want)) {
      const r = await verdict(server, dir, mode);
      assert.equal(r.code, code, `${server}, ${mode}: ${r.stderr}`);
      // This directory holds what OpenSSL 3.0 would look up differently: never lazily.
      assert.match(r.stderr, /debug: trust anchors: 3 loaded from /, `${server}, ${mode}`);
    }
  }
});

test('a CADIR both ways read alike is looked up lazily without a drop, read up front with one, and trusts the same', async () => {
  const dir = pki.caDir('clean', [roots.A, inter]);
  for (const [mode, line] of [
    ['no drop', /debug: trust anchors: looked up by OpenSSL in .* when needed/],
    ['root, drop', /debug: trust anchors: 2 loaded from /],
  ] as const) {
    for (const [server, code] of Object.entries({ A: 0, G: 0, B: 98, X: 98 })) {
      const r = await verdict(server, dir, mode);
      assert.equal(r.code, code, `${server}, ${mode}: ${r.stderr}`);
      assert.match(r.stderr, line, `${server}, ${mode}`);
    }
  }
});

test('a CADIR never run through openssl rehash: exit 96, and the message says to run it', async () => {
  const plain = pki.path('not-rehashed');
  mkdirSync(plain);
  writeFileSync(join(plain, 'rootA.pem'), roots.A.certPem);
  const misfiled = pki.path('misfiled');
  mkdirSync(misfiled);
  writeFileSync(join(misfiled, `${subjectHash(roots.B)}.0`), roots.A.certPem);
  for (const [dir, why] of [[plain, 'no file named by subject hash'], [misfiled, '1 certificates not under their subject hash']]) {
    const r = await runWithSocket(servers.A.port, [...K, '6', '7'], { env: { CADIR: dir }, stdin: 'x' });
    assert.equal(r.code, 96, r.stderr);
    assert.equal(r.stderr, `s6-tlsc-io: fatal: no trust anchor found in ${dir} (${why}): run \`openssl rehash\` (or c_rehash) on it\n`);
  }
});

test('a CAFILE anchor whose own trust settings exclude server authentication stays excluded (TRUSTED CERTIFICATE aux data kept)', async () => {
  const emailOnly = pki.path('email-only.pem');
  execFileSync('openssl', ['x509', '-in', roots.A.certPath, '-addtrust', 'emailProtection', '-out', emailOnly]);
  assert.match(readFileSync(emailOnly, 'latin1'), /BEGIN TRUSTED CERTIFICATE/);
  const serverAuth = pki.path('server-auth.pem');
  execFileSync('openssl', ['x509', '-in', roots.A.certPath, '-addtrust', 'serverAuth', '-out', serverAuth]);
  const refused = await runWithSocket(servers.A.port, [...K, '6', '7'], { env: { CAFILE: emailOnly }, stdin: 'x' });
  assert.equal(refused.code, 98, refused.stderr);
  const taken = await runWithSocket(servers.A.port, [...K, '6', '7'], { env: { CAFILE: serverAuth }, stdin: 'x' });
  assert.equal(taken.code, 0, taken.stderr);
});
