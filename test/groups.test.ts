// Key exchange groups: the post-quantum hybrid X25519MLKEM768 offered first
// where the runtime has it (OpenSSL 3.5, Node 24 and later), --groups to
// choose, and the group agreed in the report (SSL_KEX_GROUP). The server is
// a real Node 26 process: NODE26, or the one scripts/node26.sh keeps in the
// user's cache (fetching it when missing, as npm test's first step does); the
// test fails when there is none rather than skip.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, writeFileSync } from 'fs';
import { dirname, join } from 'path';
import { spawn, spawnSync, ChildProcess } from 'child_process';
import { createInterface } from 'readline';
import { PassThrough } from 'stream';
import { connect } from 'net';
import { once } from 'events';
import { serverPki, Pki, Cert, K, SERVER_NAME } from './helpers/pki';
import { runWithSocket, parseNotification, REPO } from './helpers/harness';
import { startTlsServer, echo } from './helpers/servers';
import { runTlsClient } from '../src/client/library';

const found26 = spawnSync('sh', [join(REPO, 'scripts', 'node26.sh')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
const NODE26 = found26.stdout.trim();
const HAS_MLKEM = Number(process.versions.openssl.split('.')[0]) * 100 + Number(process.versions.openssl.split('.')[1]) >= 305;

let pki: Pki;
let root: Cert;
let leaf: Cert;

before(() => {
  ({ pki, root, leaf } = serverPki());
});
after(() => pki.remove());

/** A TLS echo server in a Node 26 process, offering `groups` (its default list when absent). */
async function node26Server(groups?: string): Promise<{ port: number; stop: () => void }> {
  assert.ok(NODE26 !== '' && existsSync(NODE26), `no Node 26: scripts/node26.sh said ${JSON.stringify(found26.stderr.trim())}`);
  const script = pki.path('server26.js');
  writeFileSync(
    script,
    `const tls = require('tls'), fs = require('fs');
const server = tls.createServer({ key: fs.readFileSync(${JSON.stringify(leaf.keyPath)}), cert: fs.readFileSync(${JSON.stringify(leaf.certPath)}),
  ecdhCurve: process.argv[2] || undefined, allowHalfOpen: true }, (s) => { s.on('error', () => {}); s.pipe(s); });
server.on('tlsClientError', () => {});
server.listen(0, '127.0.0.1', () => console.log(server.address().port + ' ' + process.versions.openssl));`,
  );
  const child: ChildProcess = spawn(NODE26, [script, ...(groups ? [groups] : [])], { stdio: ['ignore', 'pipe', 'inherit'] });
  const [line] = (await once(createInterface({ input: child.stdout! }), 'line')) as [string];
  const [port, openssl] = line.split(' ');
  assert.match(openssl, /^3\.([5-9]|\d\d)\./, 'the Node 26 server has OpenSSL 3.5 or later');
  return { port: Number(port), stop: () => child.kill() };
}

/** Runs s6-tlsc-io with Node 26 first in PATH (the launcher runs the `node` it finds). */
function run26(port: number, args: string[]) {
  return runWithSocket(port, ['-d', '3', ...K, ...args, '6', '7'], {
    env: { CAFILE: root.certPath, PATH: `${dirname(NODE26)}:${process.env.PATH}` },
    stdin: 'pq',
    notificationFd: 3,
  });
}

function kexGroup(notification: Buffer | undefined): string | undefined {
  const keys = parseNotification(notification!);
  // After the five keys of the report (no ALPN here).
  return keys[5]?.startsWith('SSL_KEX_GROUP=') ? keys[5].slice('SSL_KEX_GROUP='.length) : `missing: ${keys.join(' | ')}`;
}

test('Node 26 to Node 26: X25519MLKEM768 is agreed by default and reported as SSL_KEX_GROUP', async () => {
  const server = await node26Server();
  try {
    const r = await run26(server.port, []);
    assert.equal(r.stderr, '');
    assert.equal(r.code, 0);
    assert.equal(r.stdout.toString(), 'pq');
    assert.equal(kexGroup(r.notification), 'X25519MLKEM768');
  } finally {
    server.stop();
  }
});

test('--groups sets the list: only those groups are offered', async () => {
  const server = await node26Server();
  try {
    const classic = await run26(server.port, ['--groups=X25519']);
    assert.equal(classic.code, 0, classic.stderr);
    assert.equal(kexGroup(classic.notification), 'X25519');
    const nist = await run26(server.port, ['--groups=secp384r1']);
    assert.equal(nist.code, 0, nist.stderr);
    assert.equal(kexGroup(nist.notification), 'secp384r1');
  } finally {
    server.stop();
  }
});

test('a server that has only X25519MLKEM768 is reached when it is offered, refused when it is not', async () => {
  const server = await node26Server('X25519MLKEM768');
  try {
    const pq = await run26(server.port, ['--groups=X25519MLKEM768:X25519']);
    assert.equal(pq.code, 0, pq.stderr);
    assert.equal(kexGroup(pq.notification), 'X25519MLKEM768');
    const classic = await run26(server.port, ['--groups=X25519']);
    assert.equal(classic.code, 98);
    assert.equal(classic.stderr, 's6-tlsc-io: fatal: the server sent a fatal alert: handshake failure\n');
  } finally {
    server.stop();
  }
});

test('this runtime: P-256 is reported by its TLS name, secp256r1, whatever Node calls it', async () => {
  const server = await node26Server();
  try {
    const r = await runWithSocket(server.port, ['-d', '3', ...K, '--groups=P-256', '6', '7'], { env: { CAFILE: root.certPath }, stdin: 'x', notificationFd: 3 });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(kexGroup(r.notification), 'secp256r1');
  } finally {
    server.stop();
  }
});

test('a group this runtime lacks: exit 97 naming it (X25519MLKEM768 before OpenSSL 3.5)', async () => {
  const server = await startTlsServer({ leaf }, echo);
  const r = await runWithSocket(server.port, [...K, '--groups=X25519MLKEM768:NoSuchGroup:X25519', '6', '7'], { env: { CAFILE: root.certPath } });
  await server.close();
  const missing = HAS_MLKEM ? 'group NoSuchGroup' : 'groups X25519MLKEM768, NoSuchGroup';
  assert.equal(
    r.stderr,
    `s6-tlsc-io: fatal: unable to set up the TLS context: OpenSSL ${process.versions.openssl} (the TLS library of this Node ${process.version}) does not support the ${missing} (--groups)\n`,
  );
  assert.equal(r.code, 97);
});

test('--groups syntax: a colon-separated list of names, else exit 100', async () => {
  const server = await startTlsServer({ leaf }, echo);
  try {
    for (const bad of ['', 'X25519::P-256', 'X25519 P-256', 'X25519,P-256']) {
      const r = await runWithSocket(server.port, [...K, `--groups=${bad}`, '6', '7'], { env: { CAFILE: root.certPath } });
      assert.equal(r.code, 100, bad);
      assert.match(r.stderr, /^s6-tlsc-io: usage: groups must be a colon-separated list of group names \(e\.g\. X25519MLKEM768:X25519\): s6-tlsc-io \[ .*\n$/, bad);
    }
  } finally {
    await server.close();
  }
});

test('--groups with a CADIR read lazily by OpenSSL: the group check does not disturb the anchors', async () => {
  const server = await startTlsServer({ leaf }, echo);
  try {
    const r = await runWithSocket(server.port, ['-d', '3', ...K, '--groups=X25519', '6', '7'], {
      env: { CADIR: pki.caDir('groups-cadir', [root]) },
      stdin: 'lazy',
      notificationFd: 3,
    });
    assert.equal(r.stderr, '');
    assert.equal(r.code, 0);
    assert.equal(kexGroup(r.notification), 'X25519');
  } finally {
    await server.close();
  }
});

test('library: the groups option, and the group in the report', async () => {
  const server = await node26Server();
  try {
    const socket = connect({ port: server.port, host: '127.0.0.1' });
    await once(socket, 'connect');
    const input = new PassThrough();
    const output = new PassThrough();
    const received: Buffer[] = [];
    output.on('data', (c: Buffer) => received.push(c));
    input.end('lib');
    const outcome = await runTlsClient({
      network: { socket },
      cleartext: { input, output },
      trust: { cafile: root.certPath },
      servername: SERVER_NAME,
      groups: ['secp384r1'],
    });
    assert.equal(outcome.reason, undefined);
    assert.equal(outcome.exitCode, 0);
    assert.equal(outcome.report?.kexGroup, 'secp384r1');
    assert.equal(Buffer.concat(received).toString(), 'lib');
  } finally {
    server.stop();
  }
});
