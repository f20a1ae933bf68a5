// The server programs end to end: s6-tlsd and s6-tlsd-io run as tcpserver
// runs them (the accepted socket as stdin and stdout), clients connect with
// Node's TLS and OpenSSL's s_client, certificates are made here.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'crypto';
import { spawn } from 'child_process';
import { connect as tlsConnect } from 'tls';
import { once } from 'events';
import type { Readable, Writable } from 'stream';
import { openSync, readFileSync, statSync, writeFileSync } from 'fs';
import { Pki, Cert } from './helpers/pki';
import { sha256, parseNotification, RunResult } from './helpers/harness';
import { serveOnce, tlsClient, TLSD, TLSD_IO, UCSPITLSD } from './helpers/serve';

const pki = new Pki();
const root = pki.cert('root', { ca: true });
const leaf = pki.cert('server', { issuer: root, dns: ['default.test'] });
const alpha = pki.cert('alpha', { issuer: root, dns: ['alpha.test'] });
const beta = pki.cert('beta', { issuer: root, dns: ['beta.test'] });
const wild = pki.cert('wild', { issuer: root, dns: ['*.wild.test'] });
const clientRoot = pki.cert('client-root', { ca: true });
const client = pki.cert('client', { issuer: clientRoot, eku: 'clientAuth' });
const clientServerOnly = pki.cert('client-server-eku', { issuer: clientRoot, eku: 'serverAuth' });
const stranger = pki.cert('stranger', { eku: 'clientAuth' });

const PAIR = { KEYFILE: leaf.keyPath, CERTFILE: leaf.certPath };
const trustServer = { ca: [root.certPem] };

/** prog: says what it was given, then echoes. */
const ECHO_WITH_ENV = ['sh', '-c', 'printf "%s|%s|%s|%s|%s\\n" "$SSL_PROTOCOL" "${SSL_TLS_SNI_SERVERNAME-unset}" "${KEYFILE-unset}" "${SSL_PEER_CERT_SUBJECT-unset}" "$(env | grep -c "^[A-Z]*FILE:")"; exec cat'];

function firstLine(data: Buffer): string {
  return data.toString().split('\n')[0];
}

test('s6-tlsd: prog gets the cleartext as stdin and stdout and the report in its environment; 1 MiB echoed whole; exit is prog\'s', async () => {
  const payload = randomBytes(1 << 20);
  const served = await serveOnce(TLSD, ECHO_WITH_ENV, PAIR);
  const run = await tlsClient(served.port, { ...trustServer, servername: 'default.test' }, payload);
  const result = await served.result;
  assert.equal(run.error, undefined, String(run.error));
  assert.equal(result.code, 0, result.stderr);
  const text = run.received.toString('latin1');
  const newline = text.indexOf('\n');
  assert.equal(text.slice(0, newline), 'TLSv1.3|default.test|unset|unset|0');
  assert.equal(sha256(run.received.subarray(newline + 1)), sha256(payload));
});

test('s6-tlsd: no SNI leaves SSL_TLS_SNI_SERVERNAME unset; -Z keeps KEYFILE; TLS 1.2 is served', async () => {
  const served = await serveOnce(TLSD, ['-Z', ...ECHO_WITH_ENV], PAIR);
  const run = await tlsClient(served.port, { ...trustServer, checkServerIdentity: () => undefined, maxVersion: 'TLSv1.2' }, 'x');
  const result = await served.result;
  assert.equal(result.code, 0, result.stderr);
  assert.equal(firstLine(run.received), `TLSv1.2|unset|${leaf.keyPath}|unset|0`);
});

test('s6-tlsd: a TLS 1.1 client is refused with an alert, prog never starts, exit 98', async () => {
  const marker = pki.path('tls11-started');
  const served = await serveOnce(TLSD, ['sh', '-c', `touch ${marker}`], PAIR);
  const run = await tlsClient(served.port, { ...trustServer, servername: 'default.test', minVersion: 'TLSv1', maxVersion: 'TLSv1.1', ciphers: 'DEFAULT:@SECLEVEL=0' });
  const result = await served.result;
  assert.ok(run.error, 'the client is refused');
  assert.equal(result.code, 98, result.stderr);
  assert.match(result.stderr, /^s6-tlsd: fatal: /m);
  assert.throws(() => statSync(marker));
});

test('SNI level 1: each named pair for its name, a wildcard for one label below, the plain pair for the rest', async () => {
  const env = {
    ...PAIR,
    'KEYFILE:alpha.test': alpha.keyPath,
    'CERTFILE:alpha.test': alpha.certPath,
    'KEYFILE:Beta.Test': beta.keyPath,
    'CERTFILE:Beta.Test': beta.certPath,
    'KEYFILE:*.wild.test': wild.keyPath,
    'CERTFILE:*.wild.test': wild.certPath,
  };
  const cases: [string | undefined, string][] = [
    ['alpha.test', 'alpha'],
    ['beta.test', 'beta'],
    ['a.wild.test', 'wild'],
    ['a.b.wild.test', 'server'],
    ['other.test', 'server'],
    [undefined, 'server'],
  ];
  for (const [name, cn] of cases) {
    const served = await serveOnce(TLSD, ['-k', '1', ...ECHO_WITH_ENV], env);
    const run = await tlsClient(served.port, { ...trustServer, servername: name, checkServerIdentity: () => undefined }, '');
    const result = await served.result;
    assert.equal(run.serverCn, cn, `SNI ${name}`);
    assert.equal(result.code, 0, result.stderr);
    // The pairs by name are gone from prog's environment under -z.
    assert.match(firstLine(run.received), new RegExp(`\\|${name ?? 'unset'}\\|unset\\|unset\\|0$`));
  }
});

test('SNI level 2: the plain pair is not even read; no SNI or an unknown name is refused with an alert (98), prog never starts', async () => {
  const env = { KEYFILE: '/nonexistent', CERTFILE: '/nonexistent', 'KEYFILE:alpha.test': alpha.keyPath, 'CERTFILE:alpha.test': alpha.certPath };
  const ok = await serveOnce(TLSD, ['-k', '2', ...ECHO_WITH_ENV], env);
  const good = await tlsClient(ok.port, { ...trustServer, servername: 'alpha.test' }, '');
  assert.equal((await ok.result).code, 0);
  assert.equal(good.serverCn, 'alpha');
  for (const name of [undefined, 'beta.test']) {
    const served = await serveOnce(TLSD, ['-k', '2', 'sh', '-c', 'echo started'], env);
    const run = await tlsClient(served.port, { ...trustServer, servername: name, checkServerIdentity: () => undefined });
    const result = await served.result;
    assert.ok(run.error, `SNI ${name}: refused`);
    assert.match(String(run.error), /alert|handshake failure/i, `SNI ${name}: with an alert`);
    assert.equal(result.code, 98, result.stderr);
    assert.equal(result.stdout.length, 0);
  }
});

test('client certificates: -y requires one that verifies; -Y asks and goes on without; a stranger or a server-only certificate is refused', async () => {
  const anchors = { CAFILE: clientRoot.certPath };
  const withCert = (c: Cert) => ({ ...trustServer, servername: 'default.test', key: c.keyPem, cert: c.certPem });
  const cases: [string, Record<string, unknown>, number][] = [
    ['-y', withCert(client), 0],
    ['-y', { ...trustServer, servername: 'default.test' }, 98],
    ['-y', withCert(stranger), 98],
    ['-y', withCert(clientServerOnly), 98],
    ['-Y', { ...trustServer, servername: 'default.test' }, 0],
    ['-Y', withCert(client), 0],
    ['-Y', withCert(stranger), 98],
  ];
  for (const [flag, options, code] of cases) {
    const served = await serveOnce(TLSD, [flag, ...ECHO_WITH_ENV], { ...PAIR, ...anchors });
    const run = await tlsClient(served.port, options, 'hi');
    const result = await served.result;
    const what = `${flag} ${options.cert === client.certPem ? 'client' : options.cert === stranger.certPem ? 'stranger' : options.cert ? 'server-only' : 'none'}`;
    assert.equal(result.code, code, `${what}: ${result.stderr}`);
    if (code === 0) {
      assert.match(firstLine(run.received), options.cert ? /CN=client\|0$/ : /\|unset\|0$/, what);
    } else {
      assert.match(result.stderr, /s6-tlsd: fatal: .*(certificate|alert)/, what);
    }
  }
});

test('s6-tlsd-io: cleartext on fdr and fdw, the report on -d with the client\'s SNI; both directions whole', async () => {
  const up = randomBytes(300_000);
  const down = randomBytes(500_000);
  let child!: ReturnType<typeof spawn>;
  const served = await serveOnce(TLSD_IO, ['-d', '5', '3', '4'], PAIR, ['pipe', 'pipe', 'pipe'], (c) => (child = c));
  const run = tlsClient(served.port, { ...trustServer, servername: 'default.test' }, up);
  // The test is prog: it writes `down` at fdr (3) and reads fdw (4).
  while (!child) await new Promise((r) => setImmediate(r));
  const toEngine = child.stdio[3] as Writable;
  const fromEngine = child.stdio[4] as Readable;
  const chunks: Buffer[] = [];
  fromEngine.on('data', (c: Buffer) => chunks.push(c));
  const notification: Buffer[] = [];
  ((child.stdio as unknown as Readable[])[5]).on('data', (c: Buffer) => notification.push(c));
  toEngine.end(down);
  const client = await run;
  const result: RunResult = await served.result;
  assert.equal(result.code, 0, result.stderr);
  assert.equal(sha256(client.received), sha256(down));
  assert.equal(sha256(Buffer.concat(chunks)), sha256(up));
  const report = parseNotification(Buffer.concat(notification));
  assert.ok(report.includes('SSL_TLS_SNI_SERVERNAME=default.test'), report.join(' '));
  assert.ok(report.includes('SSL_PEER_CERT_HASH'), 'no client certificate: bare key');
});

test('openssl s_client, TLS 1.2 and 1.3: 200 KiB each way through s6-tlsd, sha256 checked', async () => {
  const data = randomBytes(200 * 1024).toString('base64');
  const input = pki.path('s_client-input');
  writeFileSync(input, data);
  for (const version of ['-tls1_2', '-tls1_3']) {
    // prog echoes exactly what s_client sends, then ends: the server's end is what ends s_client.
    const served = await serveOnce(TLSD, ['head', '-c', String(data.length)], PAIR);
    const client = spawn('openssl', ['s_client', version, '-connect', `127.0.0.1:${served.port}`, '-servername', 'default.test', '-CAfile', root.certPath, '-verify_return_error', '-quiet'], {
      stdio: [openSync(input, 'r'), 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    (client.stdout as Readable).on('data', (c: Buffer) => out.push(c));
    await once(client, 'exit');
    const result = await served.result;
    assert.equal(result.code, 0, `${version}: ${result.stderr}`);
    assert.equal(sha256(Buffer.concat(out)), sha256(data), version);
  }
});

test('usage and configuration errors: exit codes before any byte (100 usage, 96 bad key pair), one line each', async () => {
  const other = pki.cert('other', { issuer: root, dns: ['other.test'] });
  const cases: [string[], Record<string, string>, number, RegExp][] = [
    [['cat'], { CERTFILE: leaf.certPath }, 100, /KEYFILE not set/],
    [['cat'], { KEYFILE: leaf.keyPath }, 100, /CERTFILE not set/],
    [['-k', '2', 'cat'], PAIR, 100, /no KEYFILE:name/],
    [['-k', '1', 'cat'], { ...PAIR, 'KEYFILE:*.test': leaf.keyPath, 'CERTFILE:*.test': leaf.certPath }, 100, /invalid name/],
    [['-k', '1', 'cat'], { ...PAIR, 'KEYFILE:a.test': leaf.keyPath }, 100, /without CERTFILE:a.test/],
    [['-y', 'cat'], PAIR, 100, /CADIR or CAFILE not set/],
    [['cat'], { KEYFILE: other.keyPath, CERTFILE: leaf.certPath }, 96, /key pair/],
    [['cat'], { KEYFILE: '/nonexistent', CERTFILE: leaf.certPath }, 111, /nonexistent/],
    [[], PAIR, 100, /usage: missing prog/],
  ];
  for (const [args, env, code, words] of cases) {
    const served = await serveOnce(TLSD, args, env);
    const run = await tlsClient(served.port, { ...trustServer, servername: 'default.test' });
    const result = await served.result;
    assert.ok(run.error || run.received.length === 0);
    assert.equal(result.code, code, `${args.join(' ')} ${JSON.stringify(env)}: ${result.stderr}`);
    assert.match(result.stderr, words);
    assert.equal(result.stderr.trim().split('\n').length, 1, result.stderr);
  }
});

test('hostile clients: garbage instead of a ClientHello is 98 at once; a silent client meets -K (98); a client that resets mid-stream: prog sees its input end, the engine\'s failure is a warning', async () => {
  const { connect } = await import('net');
  const garbage = await serveOnce(TLSD, ['cat'], PAIR);
  const g = connect(garbage.port, '127.0.0.1', () => g.end('GET / HTTP/1.0\r\n\r\n'));
  g.on('error', () => undefined);
  g.resume();
  const gr = await garbage.result;
  assert.equal(gr.code, 98, gr.stderr);
  assert.match(gr.stderr, /did not speak TLS|TLS protocol error/);

  const silent = await serveOnce(TLSD, ['-K', '300', 'cat'], PAIR);
  const s = connect(silent.port, '127.0.0.1');
  s.on('error', () => undefined);
  const sr = await silent.result;
  s.destroy();
  assert.equal(sr.code, 98, sr.stderr);
  assert.match(sr.stderr, /timed out/);

  const reset = await serveOnce(TLSD, ['sh', '-c', 'cat; echo "prog saw its input end" >&2'], PAIR);
  await new Promise<void>((resolve) => {
    const raw = connect(reset.port, '127.0.0.1');
    const c = tlsConnect({ socket: raw, ...trustServer, servername: 'default.test' }, () => {
      // Some data is under way when the connection is reset under it.
      c.write(randomBytes(64 * 1024), () => setTimeout(() => raw.resetAndDestroy(), 200));
    });
    c.on('error', () => undefined);
    raw.on('error', () => undefined);
    raw.on('close', () => resolve());
  });
  const rr = await reset.result;
  assert.equal(rr.code, 0, `prog's code, cat having seen its input end: ${rr.stderr}`);
  assert.match(rr.stderr, /prog saw its input end/);
  assert.match(rr.stderr, /s6-tlsd: warning: TLS engine: .*reset/);
});

test('as root with TLS_UID/TLS_GID: the engine is an s6-tlsd-io process running as those ids, prog keeps root; the echo is whole', async () => {
  assert.equal(process.getuid?.(), 0, 'the test suite runs as root (CI does)');
  // The pki directory is private: the engine reads the key as root, before it drops.
  const payload = randomBytes(256 * 1024);
  const prog = ['sh', '-c', 'echo "prog $(id -u) engine $(ps -o uid=,args= --ppid $PPID | grep -c "^ *65534 .*s6-tlsd-io")"; exec cat'];
  const served = await serveOnce(TLSD, prog, { ...PAIR, TLS_UID: '65534', TLS_GID: '65534' });
  const run = await tlsClient(served.port, { ...trustServer, servername: 'default.test' }, payload);
  const result = await served.result;
  assert.equal(result.code, 0, result.stderr);
  const text = run.received.toString('latin1');
  const newline = text.indexOf('\n');
  assert.equal(text.slice(0, newline), 'prog 0 engine 1');
  assert.equal(sha256(run.received.subarray(newline + 1)), sha256(payload));
});

/** A prog for s6-ucspitlsd: says hello in cleartext, then does what MODE says on the control socket. */
const UCSPI_APP = String.raw`
import os, sys
mode = sys.argv[1]
ctl, rd, wr = (int(os.environ[k]) for k in ('SSLCTLFD', 'SSLREADFD', 'SSLWRITEFD'))
os.write(1, b'hello in cleartext\n')
if mode == 'decline':
    os.close(ctl); os.write(1, b'still cleartext\n'); sys.exit(0)
if mode == 'bad':
    os.write(ctl, b'x')
    while os.read(rd, 4096): pass
    sys.exit(0)
os.write(ctl, b'Y')
report = b''
while True:
    c = os.read(ctl, 4096)
    if not c: break
    report += c
got = b''
while not got.endswith(b'\n'):
    c = os.read(rd, 4096)
    if not c: break
    got += c
os.write(wr, b'over TLS: ' + got + b'report: ' + report.replace(b'\0', b' ') + b'\n')
sys.exit(7)
`;

test('s6-ucspitlsd: prog speaks cleartext on the connection, asks for TLS with Y and gets the report; the client upgrades; exit is prog\'s', async () => {
  const served = await serveOnce(UCSPITLSD, ['python3', '-c', UCSPI_APP, 'Y'], PAIR);
  const { connect } = await import('net');
  const raw = connect(served.port, '127.0.0.1');
  let cleartext = '';
  await new Promise<void>((resolve) => {
    raw.on('data', function onData(c: Buffer) {
      cleartext += c.toString();
      if (cleartext.includes('\n')) {
        raw.removeListener('data', onData);
        raw.pause();
        resolve();
      }
    });
  });
  assert.equal(cleartext, 'hello in cleartext\n');
  const secure = tlsConnect({ socket: raw, ...trustServer, servername: 'default.test' });
  await once(secure, 'secureConnect');
  secure.write('a secret\n');
  const chunks: Buffer[] = [];
  secure.on('data', (c: Buffer) => chunks.push(c));
  secure.on('error', () => undefined);
  await once(secure, 'end');
  secure.end();
  const result = await served.result;
  assert.equal(result.code, 7, result.stderr);
  const text = Buffer.concat(chunks).toString();
  assert.match(text, /^over TLS: a secret\nreport: SSL_PROTOCOL=TLSv1\.3 .*SSL_TLS_SNI_SERVERNAME=default\.test /);
});

test('s6-ucspitlsd: closing the control socket declines (prog goes on in cleartext); another byte is 100 with one fatal line', async () => {
  const declined = await serveOnce(UCSPITLSD, ['python3', '-c', UCSPI_APP, 'decline'], PAIR);
  const run = await new Promise<string>((resolve) => {
    const { connect } = require('net') as typeof import('net');
    let text = '';
    const s = connect(declined.port, '127.0.0.1');
    s.on('data', (c: Buffer) => (text += c.toString()));
    s.on('close', () => resolve(text));
    s.on('error', () => undefined);
  });
  assert.equal(run, 'hello in cleartext\nstill cleartext\n');
  assert.equal((await declined.result).code, 0);

  const bad = await serveOnce(UCSPITLSD, ['python3', '-c', UCSPI_APP, 'bad'], PAIR);
  const s = require('net').connect(bad.port, '127.0.0.1');
  s.on('error', () => undefined);
  s.resume();
  const result = await bad.result;
  s.destroy();
  assert.equal(result.code, 100, result.stderr);
  assert.equal(result.stderr, 's6-ucspitlsd: fatal: unrecognized command on control socket\n');
});

test('a client asking to renegotiate (openssl s_client R, TLS 1.2) is refused: the client stops, s6-tlsd says why in one warning, prog\'s code stands', async () => {
  const served = await serveOnce(TLSD, ['cat'], PAIR);
  const client = spawn('openssl', ['s_client', '-tls1_2', '-connect', `127.0.0.1:${served.port}`, '-servername', 'default.test', '-CAfile', root.certPath], { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  client.stdout!.on('data', (c: Buffer) => {
    out += c.toString();
    // Once the session runs (our line came back), ask for a renegotiation.
    if (out.includes('before\n') && !out.includes('RENEGOTIATING')) client.stdin!.write('R\n');
  });
  client.stderr!.on('data', (c: Buffer) => (out += c.toString()));
  client.stdin!.on('error', () => undefined);
  client.stdin!.write('before\n');
  await once(client, 'exit');
  const result = await served.result;
  assert.match(out, /RENEGOTIATING/);
  assert.match(out, /no renegotiation/);
  assert.equal(result.code, 0, result.stderr);
  assert.match(result.stderr, /^s6-tlsd: warning: TLS engine: the client sent a fatal alert/m);
});

test('a client that never reads while prog writes without end: the server\'s memory stays bounded, and the client\'s reset ends it all', async (t) => {
  let child!: ReturnType<typeof spawn>;
  const served = await serveOnce(TLSD, ['sh', '-c', 'exec yes "a line prog writes for ever"'], PAIR, [], (c) => (child = c));
  const { connect } = await import('net');
  const raw = connect(served.port, '127.0.0.1');
  raw.on('error', () => undefined);
  const secure = tlsConnect({ socket: raw, ...trustServer, servername: 'default.test' });
  secure.on('error', () => undefined);
  await once(secure, 'secureConnect');
  secure.pause();
  // Plenty of time for an unbounded buffer to show: prog writes hundreds of MB a second.
  const samples: number[] = [];
  for (let i = 0; i < 10; i++) {
    await new Promise((r) => setTimeout(r, 300));
    const status = readFileSync(`/proc/${child.pid}/status`, 'utf8');
    samples.push(Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024);
  }
  raw.resetAndDestroy();
  const result = await served.result;
  const peak = Math.max(...samples);
  t.diagnostic(`server RSS (MiB) every 300 ms: ${samples.map((x) => x.toFixed(1)).join(' ')}`);
  assert.ok(peak < 200, `server RSS peaked at ${peak.toFixed(1)} MiB (samples ${samples.map((s) => s.toFixed(0)).join(' ')})`);
  assert.ok(samples[9] - samples[3] < 32, `RSS still growing: ${samples.map((s) => s.toFixed(0)).join(' ')}`);
  // yes fails once its channel closes under it (a reset of the socket pair, or SIGPIPE: 128 + 13).
  assert.ok(result.code === 1 || result.code === 141, `prog's code ${result.code}: ${result.stderr}`);
  assert.match(result.stderr, /s6-tlsd: warning: TLS engine: .*reset/);
});

/** A ClientHello as Node's TLS client sends it, captured from a plain TCP listener. */
async function capturedClientHello(): Promise<Buffer> {
  const { createServer } = await import('net');
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as { port: number }).port;
  const first = new Promise<Buffer>((resolve) => server.once('connection', (s) => s.once('data', (d: Buffer) => { resolve(d); s.destroy(); })));
  const c = tlsConnect({ host: '127.0.0.1', port, servername: 'default.test' });
  c.on('error', () => undefined);
  const hello = await first;
  server.close();
  return hello;
}

test('hostile clients: a ClientHello trickled a byte at a time meets -K (98), and a client that aborts at every step of the handshake never starts prog and never gets exit 0', async () => {
  const { connect } = await import('net');
  const hello = await capturedClientHello();
  assert.equal(hello[0], 22, 'a handshake record');
  const marker = pki.path('hostile-started');

  const trickled = await serveOnce(TLSD, ['-K', '1000', 'sh', '-c', `touch ${marker}`], PAIR);
  const t = connect(trickled.port, '127.0.0.1');
  t.on('error', () => undefined);
  let sent = 0;
  const drip = setInterval(() => (sent < hello.length ? t.write(hello.subarray(sent, ++sent)) : undefined), 100);
  const tr = await trickled.result;
  clearInterval(drip);
  t.destroy();
  assert.equal(tr.code, 98, tr.stderr);
  assert.match(tr.stderr, /handshake timed out after 1000 ms/);
  assert.ok(sent < hello.length, 'the limit came before the hello was complete');

  // Cut after 0 bytes, inside the record header, inside the hello, after the
  // whole hello, and after the server's first flight; each by FIN and by reset.
  const cuts: (number | 'flight')[] = [0, 3, 40, hello.length, 'flight'];
  for (const cut of cuts) {
    for (const how of ['fin', 'reset'] as const) {
      const served = await serveOnce(TLSD, ['sh', '-c', `touch ${marker}`], PAIR);
      const s = connect(served.port, '127.0.0.1');
      s.on('error', () => undefined);
      await once(s, 'connect');
      s.write(cut === 'flight' ? hello : hello.subarray(0, cut));
      if (cut === 'flight') await once(s, 'data');
      if (how === 'fin') s.end();
      else s.resetAndDestroy();
      const result = await served.result;
      s.destroy();
      assert.ok(result.code === 98 || result.code === 111, `cut ${cut} by ${how}: exit ${result.code} ${result.stderr}`);
      assert.match(result.stderr, /^s6-tlsd: fatal: /m, `cut ${cut} by ${how}`);
    }
  }
  assert.throws(() => statSync(marker), 'prog never started');
});

test('hostile clients: a record longer than TLS allows, after the handshake, is 98 for s6-tlsd-io', async () => {
  const served = await serveOnce(TLSD_IO, ['3', '4'], PAIR, ['pipe', 'pipe']);
  const { connect } = await import('net');
  const raw = connect(served.port, '127.0.0.1');
  raw.on('error', () => undefined);
  const secure = tlsConnect({ socket: raw, ...trustServer, servername: 'default.test' });
  secure.on('error', () => undefined);
  await once(secure, 'secureConnect');
  // An application-data record header announcing 18433 bytes (the limit is 16384 + 256 in TLS 1.3), then that many bytes.
  raw.write(Buffer.concat([Buffer.from([23, 3, 3, 0x48, 0x01]), randomBytes(0x4801)]));
  const result = await served.result;
  raw.destroy();
  assert.equal(result.code, 98, result.stderr);
  assert.match(result.stderr, /^s6-tlsd-io: fatal: .*(record|length|too long|overflow)/im);
});

test('--alpn: the server\'s list chooses; the protocol agreed is in prog\'s environment; a client offering none of them is refused with an alert', async () => {
  const prog = ['sh', '-c', 'printf "%s\\n" "${SSL_ALPN_PROTOCOL-unset}"'];
  const served = await serveOnce(TLSD, ['--alpn=http/1.1,smtp', ...prog], PAIR);
  const run = await tlsClient(served.port, { ...trustServer, servername: 'default.test', ALPNProtocols: ['h2', 'smtp', 'http/1.1'] });
  assert.equal((await served.result).code, 0);
  assert.equal(run.received.toString(), 'http/1.1\n');
  const refused = await serveOnce(TLSD, ['--alpn=http/1.1', ...prog], PAIR);
  const none = await tlsClient(refused.port, { ...trustServer, servername: 'default.test', ALPNProtocols: ['h2'] });
  const result = await refused.result;
  assert.match(String(none.error), /no.application.protocol|alert/i);
  assert.equal(result.code, 98, result.stderr);
});

test('-J: a client that ends without close_notify is 98 for s6-tlsd-io; under -j (default) it is a normal end, once the local side ends too', async () => {
  for (const [flag, code] of [['-J', 98], ['-j', 0]] as const) {
    let child!: ReturnType<typeof spawn>;
    const served = await serveOnce(TLSD_IO, [flag, '3', '4'], PAIR, ['pipe', 'pipe'], (c) => (child = c));
    const { connect } = await import('net');
    const raw = connect(served.port, '127.0.0.1');
    raw.on('error', () => undefined);
    const secure = tlsConnect({ socket: raw, ...trustServer, servername: 'default.test', maxVersion: 'TLSv1.2' });
    secure.on('error', () => undefined);
    await once(secure, 'secureConnect');
    // A bare FIN: the TCP end without TLS's.
    raw.end();
    // Under -s our direction stays open after the client's end: it ends with the local side's.
    if (code === 0) (child.stdio[3] as Writable).end();
    const result = await served.result;
    raw.destroy();
    assert.equal(result.code, code, `${flag}: ${result.stderr}`);
    if (code === 98) assert.match(result.stderr, /close_notify/);
  }
});
