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
import { freePort, startRawServer, startTlsServer } from './helpers/servers';

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

// Bad options from plain JavaScript: the caller below builds the options
// from a JavaScript text (so that null, {}, strings where numbers belong can
// be written), runs runTlsClient, says whether its descriptors are still
// open, then lives on a while so that a late reset would find it.
const BAD_CALLER = `
const { connect } = require('net');
const { openSync, fstatSync } = require('fs');
const { PassThrough } = require('stream');
const { runTlsClient } = require(${JSON.stringify(join(REPO, 'dist', 'src', 'index.js'))});
const { form, port, cafile, bad } = JSON.parse(process.argv[1]);
const cleartext = { input: new PassThrough(), output: new PassThrough() };
let fds = [];
async function networkOf() {
  if (form === 'socket') {
    // connected, as in the review's case: the server has it
    const socket = connect({ host: '127.0.0.1', port });
    await new Promise((resolve) => socket.once('connect', resolve));
    return { socket };
  }
  if (form === 'fds') {
    fds = [openSync('/dev/null', 'r'), openSync('/dev/null', 'w')];
    return { fdr: fds[0], fdw: fds[1] };
  }
  return { host: '127.0.0.1', port };
}
networkOf().then((network) => {
  const base = { network, cleartext, trust: { cafile }, servername: 'server.test' };
  const options = Function('base', 'return (' + bad + ')')(base);
  let settled;
  try {
    settled = runTlsClient(options);
  } catch (err) {
    process.stdout.write(JSON.stringify({ threw: String(err) }));
    return;
  }
  settled.then(
    (outcome) => {
      const open = fds.filter((fd) => { try { fstatSync(fd); return true; } catch { return false; } });
      process.stdout.write(JSON.stringify({ exitCode: outcome.exitCode, reason: outcome.reason, openFds: open.length }));
      // alive well past the server's reset (300 ms after it accepted)
      if (form === 'socket') setTimeout(() => undefined, 1500);
    },
    (err) => process.stdout.write(JSON.stringify({ rejected: String(err) })),
  );
});
`;

/** Each bad input, as JavaScript over `base` (valid options), and the option its message must name. */
const BAD_INPUTS: [string, RegExp][] = [
  ['null', /^options must be an object$/],
  ['{}', /^network must be /],
  ['"options"', /^options must be an object$/],
  ['{ ...base, network: null }', /^network must be /],
  ['{ ...base, network: { host: "127.0.0.1", port: "abc" } }', /^network\.port must be /],
  ['{ ...base, network: { host: "127.0.0.1", port: 70000 } }', /^network\.port must be /],
  ['{ ...base, network: { ...base.network, family: 5 } }', /^family must be /],
  ['{ ...base, network: { fdr: -1, fdw: 7 } }', /^network\.fdr must be /],
  ['{ ...base, network: { socket: {} } }', /^network\.socket must be /],
  ['{ ...base, cleartext: null }', /^cleartext must be /],
  ['{ ...base, cleartext: { input: base.cleartext.input } }', /^cleartext\.output must be /],
  ['{ ...base, trust: {} }', /^trust must be /],
  ['{ ...base, trust: { cafile: 42 } }', /^trust must be /],
  ['{ ...base, trust: { cafile: "x", cadir: "y" } }', /^trust must be /],
  ['{ ...base, clientCert: { certFile: "c.pem" } }', /^clientCert must be /],
  ['{ ...base, servername: "not a name!" }', /^invalid servername: /],
  ['{ ...base, servername: 7 }', /^servername must be /],
  ['{ ...base, pins: ["SHA256:nothex"] }', /^pins must be /],
  ['{ ...base, pins: "SHA256:00" }', /^pins must be /],
  ['{ ...base, minVersion: "TLSv1.9" }', /^minVersion must be one of TLSv1, TLSv1\.1, TLSv1\.2, TLSv1\.3$/],
  ['{ ...base, maxVersion: 1.3 }', /^maxVersion must be one of /],
  ['{ ...base, minVersion: "TLSv1.3", maxVersion: "TLSv1.2" }', /^minVersion must not be above maxVersion$/],
  ['{ ...base, handshakeTimeoutMs: -1 }', /^handshakeTimeoutMs must be /],
  ['{ ...base, handshakeTimeoutMs: 2 ** 32 }', /^handshakeTimeoutMs must be /],
  ['{ ...base, handshakeTimeoutMs: "1000" }', /^handshakeTimeoutMs must be /],
  ['{ ...base, handshakeTimeoutMs: 1.5 }', /^handshakeTimeoutMs must be /],
  ['{ ...base, closeNotify: "yes" }', /^closeNotify must be true or false$/],
  ['{ ...base, enforceCloseNotify: 1 }', /^enforceCloseNotify must be true or false$/],
  ['{ ...base, noShutdown: null }', /^noShutdown must be true or false$/],
  ['{ ...base, verify: "false" }', /^verify must be true or false$/],
  ['{ ...base, alpnProtocols: "h2" }', /^alpnProtocols must be /],
  ['{ ...base, alpnProtocols: [""] }', /^alpnProtocols must be /],
  ['{ ...base, groups: ["X25519 P-256"] }', /^groups must be /],
  ['{ ...base, onHandshake: "log" }', /^onHandshake must be a function$/],
  ['{ ...base, log: {} }', /^log must be a function$/],
];

interface BadRun {
  outcome: { exitCode?: number; reason?: string; openFds?: number; threw?: string; rejected?: string };
  /** connections the server saw, and how many of them the caller closed before the server's reset */
  connections: number;
  closedByCaller: number;
}

/**
 * Runs the caller with `bad` against a TCP server that resets each
 * connection it accepts 300 ms later unless the caller closed it first:
 * a socket left open would be reset under a caller still alive.
 */
async function runBad(form: 'socket' | 'hostport' | 'fds', bad: string): Promise<BadRun> {
  let connections = 0;
  let closedByCaller = 0;
  const allEnded: Promise<void>[] = [];
  const server = await startRawServer((socket) => {
    connections++;
    allEnded.push(
      new Promise((resolve) => {
        const reset = setTimeout(() => socket.resetAndDestroy(), 300);
        socket.on('end', () => {
          closedByCaller++;
          clearTimeout(reset);
          socket.destroy();
        });
        socket.on('close', () => resolve());
      }),
    );
  });
  try {
    const r = await spawnAndWait(['-e', BAD_CALLER, JSON.stringify({ form, port: server.port, cafile: root.certPath, bad })]);
    assert.equal(r.stderr, '', `${bad}: nothing on stderr (no unhandled 'error', no warning)`);
    assert.equal(r.code, 0, `${bad}: the caller ran to its own end`);
    await Promise.all(allEnded);
    return { outcome: JSON.parse(r.stdout), connections, closedByCaller };
  } finally {
    await server.close();
  }
}

test('bad options from plain JavaScript: 100 with the option named, never a throw or rejection, no connection made', async () => {
  for (const [bad, reason] of BAD_INPUTS) {
    const { outcome, connections } = await runBad('hostport', bad);
    assert.equal(outcome.threw, undefined, bad);
    assert.equal(outcome.rejected, undefined, bad);
    assert.equal(outcome.exitCode, 100, `${bad}: ${JSON.stringify(outcome)}`);
    assert.match(outcome.reason!, reason, bad);
    assert.equal(connections, 0, `${bad}: no connection made`);
  }
});

test('bad options with the caller\'s socket: 100, the socket closed by us, and the server\'s later reset finds no one', async () => {
  const cases = BAD_INPUTS.filter(([bad]) => bad.startsWith('{ ...base,') && !bad.includes('network:'));
  for (const [bad, reason] of cases) {
    const { outcome, connections, closedByCaller } = await runBad('socket', bad);
    assert.equal(outcome.exitCode, 100, `${bad}: ${JSON.stringify(outcome)}`);
    assert.match(outcome.reason!, reason, bad);
    assert.equal(connections, 1, bad);
    assert.equal(closedByCaller, 1, `${bad}: the caller closed its socket before the server's reset`);
  }
});

test('descriptors: bad options (100) leave them to the caller; a failure with valid options closes both', async () => {
  for (const bad of ['{ ...base, servername: "not a name!" }', '{ ...base, pins: ["x"] }', '{ ...base, trust: {} }']) {
    const { outcome } = await runBad('fds', bad);
    assert.equal(outcome.exitCode, 100, `${bad}: ${JSON.stringify(outcome)}`);
    assert.equal(outcome.openFds, 2, `${bad}: the descriptors given are untouched`);
  }
  const { outcome } = await runBad('fds', '{ ...base, trust: { cafile: "/nonexistent/ca.pem" } }');
  assert.equal(outcome.exitCode, 111, JSON.stringify(outcome));
  assert.equal(outcome.openFds, 0, 'the descriptors given were closed');
});
