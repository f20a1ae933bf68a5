// Real clients against our server programs run by Debian's tcpserver
// (ucspi-tcp), and each s6-tlsd case again through s6-tlsserver, as users deploy them: curl, openssl s_client (TLS 1.2 and
// 1.3), gnutls-cli, Python's ssl, socat's OPENSSL:, stunnel in client mode,
// nginx as a reverse proxy in front of us, our own s6-tlsc-io and
// s6-tlsclient, a Node 26 client that offers only X25519MLKEM768, and swaks
// doing STARTTLS with an SMTP server written for s6-ucspitlsd. Each moves a
// megabyte each way, checked by sha256. None of the clients is ours but the
// last two of the first list: that is the point.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, ChildProcess, execFileSync } from 'child_process';
import { connect } from 'net';
import { once } from 'events';
import { randomBytes } from 'crypto';
import { readFileSync, writeFileSync } from 'fs';
import { dirname, join } from 'path';
import { REPO, sha256, cleanEnv } from '../test/helpers/harness';
import { SERVER_NAME } from '../test/helpers/pki';
import type { Cert } from '../test/helpers/pki';
import { freePort } from '../test/helpers/servers';
import { makeWorld, World, TLSCLIENT } from './cases';
import { waitForPort, stopProcess, startNginxProxy, RealServer } from './realservers';

const TLSD = join(REPO, 'bin', 's6-tlsd');
const UCSPITLSD = join(REPO, 'bin', 's6-ucspitlsd');
const TLSSERVER = join(REPO, 'bin', 's6-tlsserver');
const TLSC_IO = join(REPO, 'bin', 's6-tlsc-io');
const SIZE = 1024 * 1024;

let world: World;
let client: Cert;
let upload: Buffer;
let uploadFile: string;

before(() => {
  world = makeWorld();
  client = world.pki.cert('client', { issuer: world.root, eku: 'clientAuth' });
  upload = randomBytes(SIZE);
  uploadFile = join(world.dir, 'upload');
  writeFileSync(uploadFile, upload);
});
after(() => world?.remove());

/** prog: echoes exactly SIZE bytes, then ends (its end is what ends the client). */
const ECHO = ['head', '-c', String(SIZE)];

/** prog: an HTTP/1.x server for one request, answering with the request's body. */
const HTTP_ECHO = ['python3', '-c', String.raw`
import sys
r, w = sys.stdin.buffer, sys.stdout.buffer
length = 0
while True:
    line = r.readline()
    if not line or line in (b'\r\n', b'\n'): break
    k, _, v = line.decode('latin1').partition(':')
    if k.strip().lower() == 'content-length': length = int(v.strip())
body = r.read(length)
w.write(b'HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: %d\r\nConnection: close\r\n\r\n' % len(body) + body)
w.flush()
`];

interface Tcpserver {
  port: number;
  child: ChildProcess;
  log: () => string;
  stop(): Promise<void>;
}

/** A listening server started as `command args(port)` on a free port of 127.0.0.1, with `env`. */
async function listener(command: string, args: (port: number) => string[], env: Record<string, string>, path?: string): Promise<Tcpserver> {
  const port = await freePort();
  const child = spawn(command, args(port), {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: cleanEnv({ ...env, PATH: path ?? process.env.PATH }),
    detached: true,
  });
  let text = '';
  child.stderr!.on('data', (c: Buffer) => (text = (text + c.toString()).slice(-20000)));
  child.stdout!.on('data', () => undefined);
  const log = (): string => text;
  await waitForPort(port, child, log);
  return { port, child, log, stop: () => stopProcess(child) };
}

/** tcpserver on 127.0.0.1 running `argv` for each connection, with `env`. */
function tcpserver(argv: string[], env: Record<string, string>, path?: string): Promise<Tcpserver> {
  return listener('tcpserver', (port) => ['-RHl0', '127.0.0.1', String(port), ...argv], env, path);
}

const PAIR = (): Record<string, string> => ({ KEYFILE: world.leaf.keyPath, CERTFILE: world.leaf.certPath });

/** Runs a client command to its end: stdin from a file (or kept open until it exits), stdout kept. */
function runTool(command: string, args: string[], opts: { stdinFile?: string; holdStdin?: Buffer; env?: Record<string, string> } = {}): Promise<{ code: number | null; out: Buffer; err: string }> {
  const child = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, ...opts.env } });
  const out: Buffer[] = [];
  let err = '';
  child.stdout.on('data', (c: Buffer) => out.push(c));
  child.stderr.on('data', (c: Buffer) => (err += c.toString()));
  child.stdin.on('error', () => undefined);
  if (opts.stdinFile) child.stdin.end(readFileSync(opts.stdinFile));
  // Clients that quit at the end of their input without waiting for the
  // answer: the input stays open, and the server's end ends them.
  else if (opts.holdStdin) child.stdin.write(opts.holdStdin);
  else child.stdin.end();
  const guard = setTimeout(() => child.kill('SIGKILL'), 120_000);
  return once(child, 'exit').then(([code]) => {
    clearTimeout(guard);
    child.stdin.destroy();
    return { code: code as number | null, out: Buffer.concat(out), err };
  });
}

/**
 * s6-tlsserver on 127.0.0.1 with s6-tlsd's options and prog (`tlsdArgv`:
 * the options first, each a single word, then prog): the same service in
 * one long-lived process.
 */
function tlsserver(tlsdArgv: string[], env: Record<string, string>, path?: string): Promise<Tcpserver> {
  const split = tlsdArgv.findIndex((a) => !a.startsWith('-'));
  const options = ['-H', '-c', '200', '-C', '200', ...tlsdArgv.slice(0, split)];
  return listener(TLSSERVER, (port) => [...options, '--', '127.0.0.1', String(port), ...tlsdArgv.slice(split)], env, path);
}

/**
 * Runs `body` against the service: under tcpserver, and for s6-tlsd a second
 * time through s6-tlsserver, so that every real client meets both.
 */
async function served(argv: string[], env: Record<string, string>, body: (port: number) => Promise<void>, path?: string): Promise<void> {
  const ways: [string, () => Promise<Tcpserver>][] = [['tcpserver', () => tcpserver(argv, env, path)]];
  if (argv[0] === TLSD) ways.push(['s6-tlsserver', () => tlsserver(argv.slice(1), env, path)]);
  for (const [way, start] of ways) {
    const server = await start();
    try {
      await body(server.port);
    } catch (err) {
      throw new Error(`through ${way}: ${err instanceof Error ? err.message : String(err)}\nserver log: ${server.log()}`);
    } finally {
      await server.stop();
    }
  }
}

function assertEcho(r: { code: number | null; out: Buffer; err: string }, what: string): void {
  assert.equal(r.out.length, SIZE, `${what}: ${r.out.length} bytes back; stderr: ${r.err.slice(-2000)}`);
  assert.equal(sha256(r.out), sha256(upload), what);
}

test('curl: a 1 MiB POST echoed by an HTTP prog behind s6-tlsd', async () => {
  await served([TLSD, ...HTTP_ECHO], PAIR(), async (port) => {
    const r = await runTool('curl', ['-sS', '--cacert', world.root.certPath, '--resolve', `${SERVER_NAME}:${port}:127.0.0.1`, '-H', 'Expect:', '--data-binary', `@${uploadFile}`, `https://${SERVER_NAME}:${port}/`]);
    assert.equal(r.code, 0, r.err);
    assertEcho(r, 'curl');
  });
});

for (const [version, close] of [['-tls1_2', '-S'], ['-tls1_3', '-s']]) {
  // OpenSSL 3 takes an end without close_notify for an error: on TLS 1.2 our
  // end has one only under -S (as the C engine's); on TLS 1.3 always.
  test(`openssl s_client ${version}, s6-tlsd ${close}: 1 MiB each way, a clean end`, async () => {
    await served([TLSD, close, ...ECHO], PAIR(), async (port) => {
      const r = await runTool('openssl', ['s_client', version, '-connect', `127.0.0.1:${port}`, '-servername', SERVER_NAME, '-verify_hostname', SERVER_NAME, '-CAfile', world.root.certPath, '-verify_return_error', '-quiet'], { stdinFile: uploadFile });
      assert.equal(r.code, 0, r.err);
      assertEcho(r, `s_client ${version}`);
    });
  });
}

test('gnutls-cli: 1 MiB each way, SNI and the name verified', async () => {
  await served([TLSD, ...ECHO], PAIR(), async (port) => {
    // Its informational lines go to the log file, so that stdout is the data alone.
    const r = await runTool('gnutls-cli', ['--logfile', join(world.dir, 'gnutls-cli.log'), '--x509cafile', world.root.certPath, '-p', String(port), '--sni-hostname', SERVER_NAME, '--verify-hostname', SERVER_NAME, '127.0.0.1'], { holdStdin: upload });
    assertEcho(r, 'gnutls-cli');
  });
});

test('Python ssl: 1 MiB each way, the client half-closes with a close_notify first (TLS 1.3) and still gets the whole echo', async () => {
  const script = String.raw`
import socket, ssl, sys
ctx = ssl.create_default_context(cafile=sys.argv[2])
s = ctx.wrap_socket(socket.create_connection(('127.0.0.1', int(sys.argv[1]))), server_hostname=sys.argv[3])
data = open(sys.argv[4], 'rb').read()
s.sendall(data)
out = bytearray()
while len(out) < len(data):
    chunk = s.recv(65536)
    if not chunk: break
    out += chunk
sys.stdout.buffer.write(out)
`;
  await served([TLSD, ...ECHO], PAIR(), async (port) => {
    const r = await runTool('python3', ['-c', script, String(port), world.root.certPath, SERVER_NAME, uploadFile]);
    assert.equal(r.code, 0, r.err);
    assertEcho(r, 'python ssl');
  });
});

test('socat OPENSSL: 1 MiB each way; socat half-closes at the end of its input, and the answer still comes (-s)', async () => {
  await served([TLSD, ...ECHO], PAIR(), async (port) => {
    const r = await runTool('socat', ['-t', '30', '-', `OPENSSL:127.0.0.1:${port},cafile=${world.root.certPath},commonname=${SERVER_NAME},snihost=${SERVER_NAME}`], { stdinFile: uploadFile });
    assert.equal(r.code, 0, r.err);
    assertEcho(r, 'socat');
  });
});

test('stunnel in client mode: plain TCP in, TLS to s6-tlsd, 1 MiB each way', async () => {
  await served([TLSD, ...ECHO], PAIR(), async (port) => {
    const dir = world.serverDir('stunnel-client');
    const local = await freePort();
    const conf = join(dir, 'stunnel.conf');
    writeFileSync(conf, ['foreground = yes', `pid =`, 'debug = 5', '[c]', 'client = yes', `accept = 127.0.0.1:${local}`, `connect = 127.0.0.1:${port}`, `CAfile = ${world.root.certPath}`, 'verifyChain = yes', `checkHost = ${SERVER_NAME}`, `sni = ${SERVER_NAME}`, ''].join('\n'));
    const stunnel = spawn('stunnel4', [conf], { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    let log = '';
    stunnel.stderr!.on('data', (c: Buffer) => (log += c.toString()));
    stunnel.stdout!.on('data', () => undefined);
    try {
      await waitForPort(local, stunnel, () => log);
      const out = await new Promise<Buffer>((resolve, reject) => {
        const chunks: Buffer[] = [];
        const s = connect(local, '127.0.0.1', () => s.end(upload));
        s.on('data', (c: Buffer) => chunks.push(c));
        s.on('error', reject);
        s.on('close', () => resolve(Buffer.concat(chunks)));
      });
      assertEcho({ code: 0, out, err: log }, 'stunnel client');
    } finally {
      await stopProcess(stunnel);
    }
  });
});

test('nginx as a reverse proxy in front of s6-tlsd (proxy_pass https://, the name verified): a 1 MiB POST echoed', async () => {
  await served([TLSD, ...HTTP_ECHO], PAIR(), async (port) => {
    const nginx: RealServer = await startNginxProxy(world.serverDir('nginx-proxy'), port, world.root.certPath, SERVER_NAME);
    try {
      const r = await runTool('curl', ['-sS', '-H', 'Expect:', '--data-binary', `@${uploadFile}`, `http://127.0.0.1:${nginx.port}/`]);
      assert.equal(r.code, 0, `${r.err}\nnginx: ${nginx.log()}`);
      assertEcho(r, 'nginx proxy');
    } finally {
      await nginx.stop();
    }
  });
});

test('our s6-tlsc-io (under tcpclient) and s6-tlsclient: 1 MiB each way, TLS 1.2 and 1.3', async () => {
  for (const version of ['TLSv1.2', 'TLSv1.3']) {
    await served([TLSD, ...ECHO], PAIR(), async (port) => {
      const env = { CAFILE: world.root.certPath };
      const viaTcpclient = await runTool('tcpclient', ['127.0.0.1', String(port), TLSC_IO, `--max-protocol=${version}`, '-k', SERVER_NAME, '6', '7'], { stdinFile: uploadFile, env });
      assert.equal(viaTcpclient.code, 0, viaTcpclient.err);
      assertEcho(viaTcpclient, `s6-tlsc-io ${version}`);
    });
    await served([TLSD, ...ECHO], PAIR(), async (port) => {
      const env = { CAFILE: world.root.certPath };
      const tlsclient = await runTool(TLSCLIENT, [`--max-protocol=${version}`, '-k', SERVER_NAME, '127.0.0.1', String(port)], { stdinFile: uploadFile, env });
      assert.equal(tlsclient.code, 0, tlsclient.err);
      assertEcho(tlsclient, `s6-tlsclient ${version}`);
    });
  }
});

test('client certificates with openssl s_client: -y with one (prog sees its subject), -y without one refused', async () => {
  const prog = ['sh', '-c', 'printf "%s\\n" "$SSL_PEER_CERT_SUBJECT"'];
  await served([TLSD, '-y', ...prog], { ...PAIR(), CAFILE: world.root.certPath }, async (port) => {
    const args = ['s_client', '-connect', `127.0.0.1:${port}`, '-servername', SERVER_NAME, '-CAfile', world.root.certPath, '-verify_return_error', '-quiet'];
    const withCert = await runTool('openssl', [...args, '-cert', client.certPath, '-key', client.keyPath]);
    assert.match(withCert.out.toString(), /CN ?= ?client/, withCert.err);
    const without = await runTool('openssl', args);
    assert.equal(without.out.length, 0);
    assert.match(without.err, /alert|certificate required|handshake failure/i);
  });
});

test('TLS 1.3 with X25519MLKEM768 against a Node 26 client that offers nothing else (s6-tlsd on Node 26 too)', async () => {
  const node26 = execFileSync('sh', [join(REPO, 'scripts', 'node26.sh')]).toString().trim();
  const script = String.raw`
const tls = require('tls'), fs = require('fs');
const [port, ca, name, file] = process.argv.slice(1);
const data = fs.readFileSync(file);
const s = tls.connect({ host: '127.0.0.1', port: +port, ca: fs.readFileSync(ca), servername: name, ecdhCurve: 'X25519MLKEM768' }, () => {
  process.stderr.write('group ' + s.getEphemeralKeyInfo().name + ' ' + s.getProtocol() + '\n');
  s.write(data);
});
const out = [];
s.on('data', (c) => out.push(c));
s.on('end', () => { process.stdout.write(Buffer.concat(out)); s.end(); });
`;
  // tcpserver runs s6-tlsd (whose launcher is node itself) with Node 26 first on PATH.
  const path = `${dirname(node26)}:${process.env.PATH}`;
  await served([TLSD, '--groups=X25519MLKEM768', ...ECHO], PAIR(), async (port) => {
    const r = await runTool(node26, ['-e', script, String(port), world.root.certPath, SERVER_NAME, uploadFile]);
    assert.equal(r.code, 0, r.err);
    assert.match(r.err, /^group X25519MLKEM768 TLSv1\.3$/m);
    assertEcho(r, 'node 26 mlkem');
  }, path);
});

test('SMTP: swaks does STARTTLS with a server written for s6-ucspitlsd, behind tcpserver; the message arrives over TLS', async () => {
  const transcript = join(world.dir, 'smtp-transcript');
  const app = String.raw`
import os, sys
ctl, rd, wr = (int(os.environ[k]) for k in ('SSLCTLFD', 'SSLREADFD', 'SSLWRITEFD'))
rfd, wfd, tls, buf, log = 0, 1, False, bytearray(), open(sys.argv[1], 'w')
def line():
    global buf
    while b'\n' not in buf:
        chunk = os.read(rfd, 65536)
        if not chunk: sys.exit(3)
        buf += chunk
    i = buf.index(b'\n'); l = bytes(buf[:i]).rstrip(b'\r'); del buf[:i + 1]
    return l.decode('latin1')
def say(text):
    data = (text + '\r\n').encode()
    while data: data = data[os.write(wfd, data):]
say('220 smtp.test ESMTP')
while True:
    cmd = line(); verb = cmd[:4].upper()
    if verb == 'EHLO': say('250-smtp.test' + ('' if tls else '\r\n250-STARTTLS') + '\r\n250 8BITMIME')
    elif verb == 'STAR':
        say('220 go ahead'); os.write(ctl, b'Y')
        report = b''
        while True:
            c = os.read(ctl, 4096)
            if not c: break
            report += c
        log.write('report ' + report.replace(b'\0', b' ').decode() + '\n')
        rfd, wfd, tls, buf = rd, wr, True, bytearray()
    elif verb in ('MAIL', 'RCPT'): say('250 ok')
    elif verb == 'DATA':
        say('354 go on')
        while True:
            l = line()
            if l == '.': break
            log.write('body ' + l + '\n')
        say('250 queued')
    elif verb == 'QUIT': say('221 bye'); log.close(); sys.exit(0)
    else: say('500 what')
`;
  await served([UCSPITLSD, 'python3', '-c', app, transcript], PAIR(), async (port) => {
    const r = await runTool('swaks', ['--server', `127.0.0.1:${port}`, '--tls', '--to', 'a@smtp.test', '--from', 'b@smtp.test', '--body', 'the marker line 42', '--tls-sni', SERVER_NAME]);
    assert.equal(r.code, 0, r.out.toString() + r.err);
    const text = readFileSync(transcript, 'utf8');
    assert.match(text, /^report SSL_PROTOCOL=TLSv1\.3 /m);
    assert.match(text, new RegExp(`SSL_TLS_SNI_SERVERNAME=${SERVER_NAME.replace('.', '\\.')}`));
    assert.match(text, /^body the marker line 42$/m);
  });
});
