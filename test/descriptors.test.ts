// End to end: the descriptors users hand over. fdr and fdw as two different
// objects, stdin/stdout as pipes and regular files, the tcpclient setup, and
// the privilege drop as root, checked in /proc.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'child_process';
import { Duplex, Readable, Writable } from 'stream';
import { TLSSocket, createSecureContext } from 'tls';
import { openSync, closeSync, readFileSync, writeFileSync, chmodSync, existsSync } from 'fs';
import { randomBytes } from 'crypto';
import { Pki, Cert, serverPki, K } from './helpers/pki';
import { BIN, cleanEnv, runCommand, runWithSocket, sha256, waitFor } from './helpers/harness';
import { startTlsServer, echo } from './helpers/servers';

let pki: Pki;
let root: Cert;
let leaf: Cert;

before(() => ({ pki, root, leaf } = serverPki()));
after(() => pki.remove());

for (const version of ['TLSv1.3', 'TLSv1.2'] as const) {
  test(`fdr and fdw as two different sockets (socketpair halves) on ${version}`, async () => {
    const started = Date.now();
    const child = spawn(BIN, [...K, '6', '7'], {
      stdio: ['pipe', 'pipe', 'pipe', 'ignore', 'ignore', 'ignore', 'pipe', 'pipe'],
      env: cleanEnv({ CAFILE: root.certPath }),
    });
    // The program reads ciphertext from its fd 6 and writes it to its fd 7.
    const toProgram = (child.stdio as unknown as Writable[])[6];
    const fromProgram = (child.stdio as unknown as Readable[])[7];
    const server = new TLSSocket(Duplex.from({ readable: fromProgram, writable: toProgram }), {
      isServer: true,
      secureContext: createSecureContext({ key: leaf.keyPem, cert: leaf.certPem, maxVersion: version }),
    });
    server.on('error', () => undefined);
    echo(server);
    const payload = randomBytes(500_000);
    const r = await waitFor(child, started, { stdin: payload });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(sha256(r.stdout), sha256(payload));
  });
}

test('stdin and stdout as regular files', async () => {
  const server = await startTlsServer({ leaf }, echo);
  const input = pki.path('input.bin');
  const output = pki.path('output.bin');
  const payload = randomBytes(300_000);
  writeFileSync(input, payload);
  const inFd = openSync(input, 'r');
  const outFd = openSync(output, 'w');
  try {
    const r = await runWithSocketStdio(server.port, inFd, outFd);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(sha256(readFileSync(output)), sha256(payload));
  } finally {
    closeSync(inFd);
    closeSync(outFd);
    await server.close();
  }
});

test('stdin and stdout as real pipes, under a shell pipeline', async () => {
  const server = await startTlsServer({ leaf }, echo);
  const input = pki.path('pipe-input.bin');
  const output = pki.path('pipe-output.bin');
  const payload = randomBytes(300_000);
  writeFileSync(input, payload);
  try {
    // The shell's pipes are FIFOs; the socket comes in at 6 and 7 from the harness.
    const r = await runWithStdioShell(server.port, `cat ${input} | ${BIN} ${K.join(' ')} 6 7 | cat > ${output}`);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(sha256(readFileSync(output)), sha256(payload));
  } finally {
    await server.close();
  }
});

test('under tcpclient (ucspi-tcp), as users run it', async () => {
  const server = await startTlsServer({ leaf }, echo);
  try {
    const r = await runTcpclient(server.port, 'through tcpclient\n');
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'through tcpclient\n');
  } finally {
    await server.close();
  }
});

test('as root with TLS_UID/TLS_GID: files read first, then the process runs as that uid and gid (/proc)', async () => {
  assert.equal(process.getuid?.(), 0, 'the test suite runs as root (CI does)');
  // A root-only trust anchor file: readable only before the drop.
  const rootOnly = pki.path('root-only-ca.pem');
  writeFileSync(rootOnly, root.certPem);
  chmodSync(rootOnly, 0o600);
  let status = '';
  const server = await startTlsServer({ leaf }, echo);
  try {
    const r = await runWithSocket(server.port, ['-d', '3', ...K, '6', '7'], {
      env: { CAFILE: rootOnly, TLS_UID: '65534', TLS_GID: '65533' },
      keepStdinOpen: true,
      notificationFd: 3,
      onSpawn: (child) => {
        // The notification is written after the handshake: by then the drop is done.
        (child.stdio[3] as Readable).once('end', () => {
          status = readFileSync(`/proc/${child.pid}/status`, 'utf8');
          child.stdin!.end('after the drop');
        });
      },
    });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.toString(), 'after the drop');
    assert.match(status, /^Uid:\s+65534\s+65534\s+65534\s+65534$/m);
    assert.match(status, /^Gid:\s+65533\s+65533\s+65533\s+65533$/m);
    assert.match(status, /^Groups:\s+65533\s*$/m);
    // A root-only CADIR of PEM roots (the kind OpenSSL could read lazily):
    // every anchor must be read before the drop, or verification would fail after it.
    const rootOnlyDir = pki.caDir('root-only-cadir', [root]);
    chmodSync(rootOnlyDir, 0o700);
    const dir = await runWithSocket(server.port, [...K, '6', '7'], {
      env: { CADIR: rootOnlyDir, TLS_UID: '65534', TLS_GID: '65533' },
      stdin: 'cadir read before the drop',
    });
    assert.equal(dir.code, 0, dir.stderr);
    assert.equal(dir.stdout.toString(), 'cadir read before the drop');
  } finally {
    await server.close();
  }
});

/** Runs the program with the socket at 6/7 and the given stdin/stdout descriptors. */
function runWithSocketStdio(port: number, inFd: number, outFd: number) {
  return new Promise<Awaited<ReturnType<typeof waitFor>>>((resolve, reject) => {
    const socket = require('net').connect({ port, host: '127.0.0.1' });
    socket.once('error', reject);
    socket.once('connect', () => {
      const started = Date.now();
      const child = spawn(BIN, [...K, '6', '7'], {
        stdio: [inFd, outFd, 'pipe', 'ignore', 'ignore', 'ignore', socket, socket],
        env: cleanEnv({ CAFILE: root.certPath }),
      });
      socket.destroy();
      waitFor(child, started, {}).then(resolve, reject);
    });
  });
}

function runWithStdioShell(port: number, pipeline: string) {
  return new Promise<Awaited<ReturnType<typeof waitFor>>>((resolve, reject) => {
    const socket = require('net').connect({ port, host: '127.0.0.1' });
    socket.once('error', reject);
    socket.once('connect', () => {
      const started = Date.now();
      const child = spawn('sh', ['-c', pipeline], {
        stdio: ['ignore', 'ignore', 'pipe', 'ignore', 'ignore', 'ignore', socket, socket],
        env: cleanEnv({ CAFILE: root.certPath }),
      });
      socket.destroy();
      waitFor(child, started, {}).then(resolve, reject);
    });
  });
}

function runTcpclient(port: number, input: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const tcpclient = ['/usr/bin/tcpclient', '/usr/local/bin/tcpclient'].find((p) => existsSync(p)) ?? 'tcpclient';
  return runCommand(tcpclient, ['-RHl0', '127.0.0.1', String(port), BIN, ...K, '6', '7'], { CAFILE: root.certPath }, input);
}

test("fdr or fdw left closed: Node's own internal descriptors take those numbers, and the program says so (111) instead of aborting", async () => {
  const server = await startTlsServer({ leaf }, echo);
  try {
    for (const layout of ['socket at 6 only', 'neither 6 nor 7'] as const) {
      const r = await new Promise<Awaited<ReturnType<typeof waitFor>>>((resolve, reject) => {
        const socket = require('net').connect({ port: server.port, host: '127.0.0.1' });
        socket.once('error', reject);
        socket.once('connect', () => {
          const stdio: ('pipe' | 'ignore' | typeof socket)[] = ['pipe', 'pipe', 'pipe', 'ignore', 'ignore', 'ignore'];
          if (layout === 'socket at 6 only') stdio.push(socket);
          const child = spawn(BIN, [...K, '6', '7'], { stdio, env: cleanEnv({ CAFILE: root.certPath }) });
          socket.destroy();
          waitFor(child, Date.now(), { stdin: 'x', timeoutMs: 10000 }).then(resolve, reject);
        });
      });
      assert.equal(r.signal, null, layout);
      assert.equal(r.code, 111, `${layout}: ${r.stderr}`);
      assert.match(r.stderr, /^s6-tlsc-io: fatal: fd [67] is not open: run me under a TCP client such as tcpclient or s6-tcpclient\n$/, layout);
    }
  } finally {
    await server.close();
  }
});

test('stdin and stdout on a terminal (a pseudo-terminal from script(1)): an interactive session, ^D ends it', async () => {
  const server = await startTlsServer({ leaf }, echo);
  try {
    const r = await new Promise<Awaited<ReturnType<typeof waitFor>>>((resolve, reject) => {
      const socket = require('net').connect({ port: server.port, host: '127.0.0.1' });
      socket.once('error', reject);
      socket.once('connect', () => {
        // script gives its command the pty on 0, 1 and 2, and passes fds 6 and 7 on.
        const child = spawn('script', ['-qfec', `${BIN} ${K.join(' ')} 6 7`, '/dev/null'], {
          stdio: ['pipe', 'pipe', 'pipe', 'ignore', 'ignore', 'ignore', socket, socket],
          env: cleanEnv({ CAFILE: root.certPath, TERM: 'dumb' }),
        });
        socket.destroy();
        let seen = '';
        child.stdout!.on('data', (c: Buffer) => {
          seen += c;
          // The terminal echoes the line, then the server's echo comes back: then ^D.
          if ((seen.match(/typed on a terminal/g) ?? []).length === 2) child.stdin!.write('\x04');
        });
        child.stdin!.write('typed on a terminal\n');
        waitFor(child, Date.now(), { keepStdinOpen: true, timeoutMs: 10000 }).then((res) => resolve({ ...res, stdout: Buffer.from(seen) }), reject);
      });
    });
    assert.equal(r.code, 0, r.stdout.toString());
    // The pty's own echo and the server's echo, each with the terminal's CR LF.
    assert.equal(r.stdout.toString().replace(/\x04|\^D|\x08/g, ''), 'typed on a terminal\r\ntyped on a terminal\r\n');
  } finally {
    await server.close();
  }
});
