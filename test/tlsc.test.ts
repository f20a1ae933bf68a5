// End to end: s6-tlsc and s6-tlsclient (a program started after the
// handshake, with the tunnel on its fds 6 and 7), the options beyond the
// original, and the library entry with the README's example.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, statSync } from 'fs';
import { join } from 'path';
import { spawn } from 'child_process';
import type { TLSSocket } from 'tls';
import { Pki, Cert, certSha256 } from './helpers/pki';
import { REPO, cleanEnv, runCommand, runWithSocket, parseNotification } from './helpers/harness';
import { startTlsServer, echo } from './helpers/servers';
import { defaultGroupName } from './helpers/runtime';

const TLSC = join(REPO, 'bin', 's6-tlsc');
const TLSCLIENT = join(REPO, 'bin', 's6-tlsclient');

let pki: Pki;
let root: Cert;
let leaf: Cert;
let stranger: Cert;

before(() => {
  pki = new Pki();
  root = pki.cert('root', { ca: true });
  leaf = pki.cert('leaf', { issuer: root, cn: 'server.test', dns: ['server.test', 'localhost'], ip: ['127.0.0.1'] });
  stranger = pki.cert('stranger', { ca: true });
});
after(() => pki.remove());

/** A program for s6-tlsc: writes its environment and what it read from fd 6 to files, sends a line on fd 7. */
function probe(tag: string, exitCode = 0): string[] {
  const dir = pki.dir;
  return [
    'sh', '-c',
    `env > ${dir}/${tag}.env; echo "ping from prog" >&7; exec 7>&-; cat <&6 > ${dir}/${tag}.in; exit ${exitCode}`,
  ];
}

function envOf(tag: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const line of readFileSync(join(pki.dir, `${tag}.env`), 'utf8').split('\n')) {
    const eq = line.indexOf('=');
    if (eq > 0) env[line.slice(0, eq)] = line.slice(eq + 1);
  }
  return env;
}

test('s6-tlsc: prog runs after the handshake with the tunnel on fds 6/7, the SSL_ environment, and its exit code passed on', async () => {
  const server = await startTlsServer({ leaf }, echo);
  try {
    const r = await runWithSocket(server.port, ['-k', 'server.test', ...probe('basic', 3)], {
      bin: TLSC,
      env: { CAFILE: root.certPath, TLS_UID: '0', SOMETHING: 'kept' },
    });
    assert.equal(r.stderr, '');
    assert.equal(r.code, 3);
    assert.equal(readFileSync(join(pki.dir, 'basic.in'), 'utf8'), 'ping from prog\n');
    const env = envOf('basic');
    assert.equal(env.SSL_PROTOCOL, 'TLSv1.3');
    assert.equal(env.SSL_CIPHER, 'TLS_AES_256_GCM_SHA384');
    assert.equal(env.SSL_TLS_SNI_SERVERNAME, 'server.test');
    assert.equal(env.SSL_PEER_CERT_HASH, `SHA256:${certSha256(leaf)}`);
    assert.equal(env.SSL_PEER_CERT_SUBJECT, 'C=FR, O=s6-tlsc-io tests, CN=server.test');
    assert.equal(env.SOMETHING, 'kept');
    // -z (default): the TLS configuration is not the program's business.
    assert.equal(env.CAFILE, undefined);
    assert.equal(env.TLS_UID, undefined);
  } finally {
    await server.close();
  }
});

test('s6-tlsc -Z keeps CAFILE and friends; no -k removes SSL_TLS_SNI_SERVERNAME; -6/-7 move the descriptors', async () => {
  const server = await startTlsServer({ leaf }, echo);
  try {
    const prog = ['sh', '-c', `env > ${pki.dir}/moved.env; echo moved >&9; exec 9>&-; cat <&8 > ${pki.dir}/moved.in`];
    const r = await runWithSocketAt(server.port, 8, 9, ['-Z', '-v0', '-6', '8', '-7', '9', ...prog], {
      CAFILE: root.certPath,
      SSL_TLS_SNI_SERVERNAME: 'stale',
    });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(readFileSync(join(pki.dir, 'moved.in'), 'utf8'), 'moved\n');
    const env = envOf('moved');
    assert.equal(env.CAFILE, root.certPath);
    assert.equal(env.SSL_TLS_SNI_SERVERNAME, undefined);
    assert.equal(env.SSL_PROTOCOL, 'TLSv1.3');
  } finally {
    await server.close();
  }
});

test('s6-tlsc: a failed handshake exits with the engine code and never starts prog', async () => {
  const server = await startTlsServer({ leaf }, echo);
  try {
    const marker = join(pki.dir, 'never-started');
    const r = await runWithSocket(server.port, ['-k', 'server.test', 'touch', marker], {
      bin: TLSC,
      env: { CAFILE: stranger.certPath },
    });
    assert.equal(r.code, 98);
    assert.match(r.stderr, /^s6-tlsc: fatal: certificate verification failed: /);
    assert.equal(existsSync(marker), false);
  } finally {
    await server.close();
  }
});

test('s6-tlsc: signals are passed to prog; a prog killed by a signal gives 128+signal', async () => {
  const server = await startTlsServer({ leaf }, (s: TLSSocket) => {
    s.on('data', () => undefined);
  });
  try {
    const trapped = await runWithSocket(server.port, ['-k', 'server.test', 'sh', '-c', 'trap "exit 42" TERM; echo ready; while :; do sleep 0.05; done'], {
      bin: TLSC,
      env: { CAFILE: root.certPath },
      keepStdinOpen: true,
      onSpawn: (child) => child.stdout!.once('data', () => child.kill('SIGTERM')),
    });
    assert.equal(trapped.signal, null);
    assert.equal(trapped.code, 42);
    const killed = await runWithSocket(server.port, ['-k', 'server.test', 'sh', '-c', 'kill -KILL $$'], {
      bin: TLSC,
      env: { CAFILE: root.certPath },
    });
    assert.equal(killed.code, 137);
  } finally {
    await server.close();
  }
});

test('s6-tlsc usage: no prog, bad -6/-7 -> 100; a prog that cannot be run -> 111', async () => {
  for (const args of [[], ['-6', '2', 'true'], ['-6', '7', '-7', '7', 'true']]) {
    const r = await runCommand(TLSC, args, { CAFILE: root.certPath });
    assert.equal(r.code, 100, args.join(' '));
    // A missing prog or a bad descriptor number: the usage line, naming it.
    assert.match(r.stderr, /^s6-tlsc: usage: (missing prog|rfd and wfd must be 3 or more, and different): s6-tlsc \[ /, args.join(' '));
  }
  const server = await startTlsServer({ leaf }, echo);
  try {
    const r = await runWithSocket(server.port, ['-k', 'server.test', '/nonexistent/prog'], { bin: TLSC, env: { CAFILE: root.certPath } });
    assert.equal(r.code, 111);
    assert.match(r.stderr, /^s6-tlsc: fatal: unable to spawn \/nonexistent\/prog: No such file or directory\n$/);
  } finally {
    await server.close();
  }
});

test('s6-tlsclient host port prog: connects, names the server after host, gives PROTO and TCP* variables', async () => {
  const server = await startTlsServer({ leaf }, echo);
  try {
    const r = await runCommand(TLSCLIENT, ['localhost', String(server.port), ...probe('client')], { CAFILE: root.certPath });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(readFileSync(join(pki.dir, 'client.in'), 'utf8'), 'ping from prog\n');
    const env = envOf('client');
    assert.equal(env.PROTO, 'TCP');
    assert.match(env.TCPREMOTEIP, /^(127\.0\.0\.1|::1)$/);
    assert.equal(env.TCPREMOTEPORT, String(server.port));
    assert.match(env.TCPLOCALIP, /^(127\.0\.0\.1|::1)$/);
    assert.match(env.TCPLOCALPORT, /^\d+$/);
    assert.equal(env.SSL_TLS_SNI_SERVERNAME, 'localhost');
  } finally {
    await server.close();
  }
});

test('s6-tlsclient without prog: an interactive session through pipes; -H sends no SNI and warns', async () => {
  const seen: (string | false | null)[] = [];
  const server = await startTlsServer({ leaf }, (s: TLSSocket) => {
    seen.push(s.servername);
    echo(s);
  });
  try {
    const child = spawn(TLSCLIENT, ['-4', '-t', '2000', '127.0.0.1', String(server.port)], {
      stdio: ['pipe', 'pipe', 'pipe'],
      env: cleanEnv({ CAFILE: root.certPath }),
    });
    let out = '';
    let err = '';
    child.stderr.on('data', (c) => (err += c));
    // Type a line, wait for its echo, type another, then EOF: a conversation.
    child.stdout.on('data', (c) => {
      out += c;
      if (out === 'first line\n') child.stdin.write('second line\n');
      if (out === 'first line\nsecond line\n') child.stdin.end();
    });
    child.stdin.write('first line\n');
    const code = await new Promise((resolve) => child.on('exit', resolve));
    assert.equal(code, 0, err);
    assert.equal(out, 'first line\nsecond line\n');
    const noSni = await runCommand(TLSCLIENT, ['-H', 'localhost', String(server.port)], { CAFILE: root.certPath }, 'x');
    assert.equal(noSni.code, 0, noSni.stderr);
    assert.equal(noSni.stderr, 's6-tlsclient: warning: no servername given: SNI not used and the server name is not verified\n');
    assert.deepEqual(seen, [false, false]); // an IP host is never sent as SNI; -H sends none
    const refused = await runCommand(TLSCLIENT, ['127.0.0.1', '1'], { CAFILE: root.certPath });
    assert.equal(refused.code, 111);
    assert.match(refused.stderr, /^s6-tlsclient: fatal: unable to connect to 127\.0\.0\.1 port 1: Connection refused\n$/);
  } finally {
    await server.close();
  }
});

test('--alpn: offered, chosen protocol in the report after the five keys and in prog\'s environment', async () => {
  const server = await startTlsServer({ leaf, alpn: ['h2', 'http/1.1'] }, echo);
  try {
    const r = await runWithSocket(server.port, ['-d', '3', '--alpn=http/1.1,h2', '-k', 'server.test', '6', '7'], {
      env: { CAFILE: root.certPath },
      stdin: 'a',
      notificationFd: 3,
    });
    assert.equal(r.code, 0, r.stderr);
    const keys = parseNotification(r.notification!);
    const group = await defaultGroupName(leaf);
    assert.equal(keys.length, group ? 7 : 6);
    assert.equal(keys[5], 'SSL_ALPN_PROTOCOL=h2');
    if (group) assert.equal(keys[6], `SSL_KEX_GROUP=${group}`);
    const viaTlsc = await runWithSocket(server.port, ['--alpn=http/1.1', '-k', 'server.test', ...probe('alpn')], { bin: TLSC, env: { CAFILE: root.certPath } });
    assert.equal(viaTlsc.code, 0, viaTlsc.stderr);
    assert.equal(envOf('alpn').SSL_ALPN_PROTOCOL, 'http/1.1');
  } finally {
    await server.close();
  }
});

test('--pin: the leaf hash must be pinned, even with --no-verify-cert; a mismatch names the hash seen', async () => {
  const server = await startTlsServer({ leaf }, echo);
  const good = `SHA256:${certSha256(leaf)}`;
  const other = `SHA256:${'0'.repeat(64)}`;
  try {
    const ok = await runWithSocket(server.port, [`--pin=${other}`, `--pin=SHA256:${certSha256(leaf).toUpperCase()}`, '-k', 'server.test', '6', '7'], {
      env: { CAFILE: root.certPath },
      stdin: 'pinned',
    });
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal(ok.stdout.toString(), 'pinned');
    for (const extra of [[], ['--no-verify-cert']]) {
      const bad = await runWithSocket(server.port, [...extra, `--pin=${other}`, '-k', 'server.test', '6', '7'], { env: { CAFILE: root.certPath }, stdin: 'x' });
      assert.equal(bad.code, 98);
      assert.equal(bad.stderr, `s6-tlsc-io: fatal: certificate pin mismatch: the server's certificate is ${good}\n`);
    }
    const malformed = await runWithSocket(server.port, ['--pin=MD5:abc', '6', '7'], { env: { CAFILE: root.certPath } });
    assert.equal(malformed.code, 100);
  } finally {
    await server.close();
  }
});

test('--min-protocol / --max-protocol', async () => {
  const tls12 = await startTlsServer({ leaf, maxVersion: 'TLSv1.2' }, echo);
  try {
    const refused = await runWithSocket(tls12.port, ['--min-protocol=TLSv1.3', '-k', 'server.test', '6', '7'], { env: { CAFILE: root.certPath }, stdin: 'x' });
    assert.equal(refused.code, 98);
    assert.match(refused.stderr, /^s6-tlsc-io: fatal: .*(protocol version|alert)/);
  } finally {
    await tls12.close();
  }
  const server = await startTlsServer({ leaf }, echo);
  try {
    const capped = await runWithSocket(server.port, ['-d', '3', '--max-protocol=TLSv1.2', '-k', 'server.test', '6', '7'], {
      env: { CAFILE: root.certPath },
      stdin: 'x',
      notificationFd: 3,
    });
    assert.equal(capped.code, 0, capped.stderr);
    assert.equal(parseNotification(capped.notification!)[0], 'SSL_PROTOCOL=TLSv1.2');
    const bad = await runWithSocket(server.port, ['--min-protocol=TLSv1.3', '--max-protocol=TLSv1.2', '6', '7'], { env: { CAFILE: root.certPath } });
    assert.equal(bad.code, 100);
    const unknown = await runWithSocket(server.port, ['--max-protocol=SSLv3', '6', '7'], { env: { CAFILE: root.certPath } });
    assert.equal(unknown.code, 100);
  } finally {
    await server.close();
  }
});

test('SSLKEYLOGFILE: NSS key-log lines appended to a 0600 file', async () => {
  const server = await startTlsServer({ leaf }, echo);
  const keylog = join(pki.dir, 'keys.log');
  try {
    for (let i = 0; i < 2; i++) {
      const r = await runWithSocket(server.port, ['-k', 'server.test', '6', '7'], { env: { CAFILE: root.certPath, SSLKEYLOGFILE: keylog }, stdin: 'k' });
      assert.equal(r.code, 0, r.stderr);
    }
    assert.equal(statSync(keylog).mode & 0o777, 0o600);
    const lines = readFileSync(keylog, 'utf8').trim().split('\n');
    assert.equal(lines.filter((l) => l.startsWith('CLIENT_TRAFFIC_SECRET_0 ')).length, 2);
    assert.ok(lines.every((l) => /^[A-Z_0-9]+ [0-9a-f]{64} [0-9a-f]+$/.test(l)), lines.join('\n'));
  } finally {
    await server.close();
  }
});

test('library: the README example runs against a local server and returns the outcome', async () => {
  const exampleSource = readFileSync(join(REPO, 'examples', 'library-example.ts'), 'utf8');
  assert.ok(readFileSync(join(REPO, 'README.md'), 'utf8').includes(exampleSource.trim()), 'the README shows examples/library-example.ts verbatim');
  const { fetchOverTls } = require(join(REPO, 'dist', 'examples', 'library-example.js'));
  const server = await startTlsServer({ leaf }, (s: TLSSocket) => {
    s.once('data', () => s.end('HTTP/1.0 200 OK\r\n\r\nhello library\n'));
  });
  try {
    const ok = await fetchOverTls('127.0.0.1', server.port, root.certPath, 'server.test');
    assert.equal(ok.outcome.exitCode, 0, ok.outcome.reason);
    assert.equal(ok.reply, 'HTTP/1.0 200 OK\r\n\r\nhello library\n');
    assert.equal(ok.outcome.report.peerCertHash, `SHA256:${certSha256(leaf)}`);
    const bad = await fetchOverTls('127.0.0.1', server.port, stranger.certPath, 'server.test');
    assert.equal(bad.outcome.exitCode, 98);
    assert.match(bad.outcome.reason, /^certificate verification failed/);
    assert.equal(bad.reply, '');
  } finally {
    await server.close();
  }
});

/** s6-tlsc with the network at other descriptors than 6/7. */
function runWithSocketAt(port: number, rfd: number, wfd: number, args: string[], env: Record<string, string>) {
  return new Promise<{ code: number | null; stderr: string }>((resolve, reject) => {
    const socket = require('net').connect({ port, host: '127.0.0.1' });
    socket.once('error', reject);
    socket.once('connect', () => {
      const stdio: ('pipe' | 'ignore' | typeof socket)[] = ['pipe', 'pipe', 'pipe'];
      for (let fd = 3; fd <= Math.max(rfd, wfd); fd++) stdio.push('ignore');
      stdio[rfd] = socket;
      stdio[wfd] = socket;
      const child = spawn(TLSC, args, { stdio, env: cleanEnv(env) });
      socket.destroy();
      let stderr = '';
      child.stderr!.on('data', (c) => (stderr += c));
      child.stdin!.end();
      child.on('exit', (code) => resolve({ code, stderr }));
    });
  });
}

test('as root with TLS_UID/TLS_GID: the engine drops in a process of its own, prog keeps the caller\'s identity (s6-tlsc and s6-tlsclient)', async () => {
  assert.equal(process.getuid?.(), 0, 'the test suite runs as root (CI does)');
  const server = await startTlsServer({ leaf }, echo);
  const env = { CAFILE: root.certPath, TLS_UID: '65534', TLS_GID: '65533' };
  // prog: its own uid, and the engine's (its parent's other child) from /proc.
  const prog = (tag: string): string[] => [
    'sh', '-c',
    `id -u > ${pki.dir}/${tag}.uid; for c in $(cat /proc/$PPID/task/*/children); do [ $c != $$ ] && grep -E '^(Uid|Gid):' /proc/$c/status; done > ${pki.dir}/${tag}.engine; env > ${pki.dir}/${tag}.env; echo hi >&7; exec 7>&-; cat <&6 > ${pki.dir}/${tag}.in`,
  ];
  try {
    const viaTlsc = await runWithSocket(server.port, ['-k', 'server.test', ...prog('split')], { bin: TLSC, env });
    assert.equal(viaTlsc.code, 0, viaTlsc.stderr);
    const viaClient = await runCommand(TLSCLIENT, ['-k', 'server.test', '127.0.0.1', String(server.port), ...prog('splitclient')], env);
    assert.equal(viaClient.code, 0, viaClient.stderr);
    for (const tag of ['split', 'splitclient']) {
      assert.equal(readFileSync(join(pki.dir, `${tag}.uid`), 'utf8'), '0\n');
      const engine = readFileSync(join(pki.dir, `${tag}.engine`), 'utf8');
      assert.match(engine, /^Uid:\s+65534\s+65534\s+65534\s+65534$/m, tag);
      assert.match(engine, /^Gid:\s+65533\s+65533\s+65533\s+65533$/m, tag);
      assert.equal(readFileSync(join(pki.dir, `${tag}.in`), 'utf8'), 'hi\n');
      assert.equal(envOf(tag).SSL_PEER_CERT_HASH, `SHA256:${certSha256(leaf)}`);
      assert.equal(envOf(tag).TLS_UID, undefined);
    }
    assert.equal(envOf('splitclient').PROTO, 'TCP');
    const refused = await runWithSocket(server.port, ['-k', 'server.test', 'touch', join(pki.dir, 'never')], { bin: TLSC, env: { ...env, CAFILE: stranger.certPath } });
    assert.equal(refused.code, 98);
    assert.match(refused.stderr, /^s6-tlsc-io: fatal: certificate verification failed/);
    assert.equal(existsSync(join(pki.dir, 'never')), false);
  } finally {
    await server.close();
  }
});

test('s6-tlsclient -6 reaches an IPv6 server (::1); -4 refuses an IPv6 literal', async () => {
  const server = await startTlsServer({ leaf, host: '::1' }, echo);
  try {
    const r = await runCommand(TLSCLIENT, ['-6', '-k', 'server.test', '::1', String(server.port), ...probe('v6')], { CAFILE: root.certPath });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(envOf('v6').TCPREMOTEIP, '::1');
    assert.equal(readFileSync(join(pki.dir, 'v6.in'), 'utf8'), 'ping from prog\n');
    const wrongFamily = await runCommand(TLSCLIENT, ['-4', '::1', String(server.port)], { CAFILE: root.certPath });
    assert.equal(wrongFamily.code, 111);
    assert.match(wrongFamily.stderr, /^s6-tlsclient: fatal: ::1 is not an IPv4 address\n$/);
  } finally {
    await server.close();
  }
});

test('prog gets socket pairs on fds 6 and 7 (the C tools give pipes), with and without a privilege drop', async () => {
  const server = await startTlsServer({ leaf }, echo);
  try {
    const prog = ['sh', '-c', 'stat -L -c %F /proc/self/fd/6 /proc/self/fd/7 >&2'];
    for (const env of [{ CAFILE: root.certPath }, { CAFILE: root.certPath, TLS_UID: '65534', TLS_GID: '65534' }]) {
      const viaTlsc = await runWithSocket(server.port, ['-v0', '-k', 'server.test', ...prog], { bin: TLSC, env });
      assert.equal(viaTlsc.stderr, 'socket\nsocket\n', JSON.stringify(env));
      const viaClient = await runCommand(TLSCLIENT, ['-q', '-k', 'server.test', '127.0.0.1', String(server.port), ...prog], env);
      assert.equal(viaClient.stderr, 'socket\nsocket\n', JSON.stringify(env));
    }
  } finally {
    await server.close();
  }
});
