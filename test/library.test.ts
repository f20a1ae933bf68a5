// The library never crashes its caller: each case runs runTlsClient (or the
// README's example program) in a process of its own, against real sockets,
// and checks that the process lived to print the outcome and exit normally,
// with the exit code and the words s6-tlsclient would give.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'child_process';
import { join } from 'path';
import type { TLSSocket } from 'tls';
import { Pki, Cert } from './helpers/pki';
import { HANG_GUARD_MS, REPO, cleanEnv } from './helpers/harness';
import { freePort, startTlsServer } from './helpers/servers';

let pki: Pki;
let root: Cert;
let leaf: Cert;
let stranger: Cert;

before(() => {
  pki = new Pki();
  root = pki.cert('root', { ca: true });
  leaf = pki.cert('leaf', { issuer: root, cn: 'server.test', dns: ['server.test'] });
  stranger = pki.cert('stranger', { ca: true });
});
after(() => pki.remove());

// The caller: builds the network as told, runs one tunnel, prints the
// outcome, then stays a moment so that a late 'error' event would still
// have the chance to kill it.
const CALLER = `
const { connect } = require('net');
const { PassThrough } = require('stream');
const { runTlsClient } = require(${JSON.stringify(join(REPO, 'dist', 'src', 'index.js'))});
const { network, cafile } = JSON.parse(process.argv[1]);
const input = new PassThrough();
const output = new PassThrough();
let reply = '';
output.on('data', (c) => (reply += c));
input.end('hello');
async function networkOf(network) {
  if (network.connect) return { socket: connect(network.connect) };
  if (network.closedAfter) {
    // A socket whose connection failed before the library got it.
    const socket = connect(network.closedAfter);
    socket.on('error', () => undefined);
    await new Promise((resolve) => socket.on('close', resolve));
    return { socket };
  }
  if (network.unconnected) return { socket: new (require('net').Socket)() };
  return network;
}
networkOf(network).then((net) => runTlsClient({ network: net, cleartext: { input, output }, trust: { cafile }, servername: 'server.test' }).then((outcome) => {
  process.stdout.write(JSON.stringify({ exitCode: outcome.exitCode, reason: outcome.reason, reply }));
  setTimeout(() => undefined, 300);
}));
`;

interface Caller {
  code: number | null;
  stderr: string;
  outcome: { exitCode: number; reason?: string; reply: string };
}

function spawnAndWait(args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  // RES_OPTIONS: a resolver that does not answer cannot hold the test up.
  const child = spawn(process.execPath, args, { env: cleanEnv({ RES_OPTIONS: 'attempts:1 timeout:2', ...env }) });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c) => (stdout += c));
  child.stderr.on('data', (c) => (stderr += c));
  // A caller left waiting is a failure too: it is killed, and its code says so.
  const timer = setTimeout(() => child.kill('SIGKILL'), HANG_GUARD_MS);
  return new Promise((resolve) =>
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    }),
  );
}

async function runCaller(network: Record<string, unknown>, cafile = root.certPath): Promise<Caller> {
  const r = await spawnAndWait(['-e', CALLER, JSON.stringify({ network, cafile })]);
  assert.equal(r.stderr, '', 'nothing on stderr: no crash, no warning');
  assert.equal(r.code, 0, 'the caller ran to its own end');
  return { code: r.code, stderr: r.stderr, outcome: JSON.parse(r.stdout) };
}

test('connection refused, on a socket still connecting and with { host, port }: 111 in words', async () => {
  // freePort: one the system just gave and took back, where nothing listens.
  const port = await freePort();
  const refused = `unable to connect to 127.0.0.1 port ${port}: Connection refused`;
  for (const network of [{ connect: { host: '127.0.0.1', port } }, { host: '127.0.0.1', port }]) {
    const { outcome } = await runCaller(network);
    assert.deepEqual(outcome, { exitCode: 111, reason: refused, reply: '' }, JSON.stringify(network));
  }
});

test('a socket that will never carry a byte (closed, or never connected): 111 at once, not a wait for ever', async () => {
  const port = await freePort();
  const closed = await runCaller({ closedAfter: { host: '127.0.0.1', port } });
  assert.deepEqual(closed.outcome, { exitCode: 111, reason: 'unable to use the socket: it is closed', reply: '' });
  const unconnected = await runCaller({ unconnected: true });
  assert.deepEqual(unconnected.outcome, { exitCode: 111, reason: 'unable to use the socket: it is not connected', reply: '' });
});

test('a name that does not resolve (.invalid): 111, "host not found", never ENOTFOUND', async () => {
  for (const network of [{ host: 'nosuchhost.invalid', port: 443 }, { connect: { host: 'nosuchhost.invalid', port: 443 } }]) {
    const { outcome } = await runCaller(network);
    assert.deepEqual(outcome, { exitCode: 111, reason: 'host not found: nosuchhost.invalid', reply: '' }, JSON.stringify(network));
  }
});

test('a server that resets the connection in the session: 111, what came before delivered', async () => {
  const server = await startTlsServer({ leaf }, (s: TLSSocket, raw) => {
    s.once('data', () => s.write('before the reset', () => setTimeout(() => raw.resetAndDestroy(), 200)));
  });
  try {
    for (const network of [{ connect: { host: '127.0.0.1', port: server.port } }, { host: '127.0.0.1', port: server.port }]) {
      const { outcome } = await runCaller(network);
      assert.deepEqual(outcome, { exitCode: 111, reason: 'unable to read from the network: Connection reset by peer', reply: 'before the reset' });
    }
  } finally {
    await server.close();
  }
});

test('a certificate that does not verify: 98; unreadable trust anchors with a socket still connecting: 111, and no late crash', async () => {
  const server = await startTlsServer({ leaf }, (s: TLSSocket) => s.end('never read'));
  try {
    const { outcome } = await runCaller({ host: '127.0.0.1', port: server.port }, stranger.certPath);
    assert.equal(outcome.exitCode, 98);
    assert.match(outcome.reason!, /^certificate verification failed: /);
    assert.equal(outcome.reply, '');
  } finally {
    await server.close();
  }
  const port = await freePort();
  const { outcome } = await runCaller({ connect: { host: '127.0.0.1', port } }, '/nonexistent/ca.pem');
  assert.deepEqual(outcome, { exitCode: 111, reason: 'unable to read trust anchors in /nonexistent/ca.pem: No such file or directory', reply: '' });
});

test('the README example, as a program: a refused connection is an outcome and an exit code, not a crash', async () => {
  const example = join(REPO, 'dist', 'examples', 'library-example.js');
  const port = await freePort();
  const r = await spawnAndWait([example, '127.0.0.1', String(port), root.certPath, 'server.test']);
  assert.equal(r.code, 111);
  assert.equal(r.stderr, '');
  assert.equal(r.stdout, `outcome: exit code 111: unable to connect to 127.0.0.1 port ${port}: Connection refused\n`);
  const unknown = await spawnAndWait([example, 'nosuchhost.invalid', '443', root.certPath]);
  assert.equal(unknown.code, 111);
  assert.equal(unknown.stdout, 'outcome: exit code 111: host not found: nosuchhost.invalid\n');
});

test('the README example, as a program: a real exchange prints the answer and the report, exit 0', async () => {
  const server = await startTlsServer({ leaf }, (s: TLSSocket) => {
    s.once('data', () => s.end('HTTP/1.0 200 OK\r\n\r\nhello example\n'));
  });
  try {
    const example = join(REPO, 'dist', 'examples', 'library-example.js');
    const r = await spawnAndWait([example, '127.0.0.1', String(server.port), root.certPath, 'server.test']);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /^the server answered:\nHTTP\/1\.0 200 OK\n\nhello example\n\n/);
    assert.match(r.stdout, /\nover TLSv1\.3 with TLS_\w+; server certificate SHA256:[0-9a-f]{64}\noutcome: exit code 0\n$/);
  } finally {
    await server.close();
  }
});
