// End to end: hostile local inputs. Files that are devices, FIFOs or too
// big; SSLKEYLOGFILE planted by someone else; -d at descriptors the caller
// did not open; TLS_UID without TLS_GID. Each ends at once with its exit
// code and one line, before any connection, and nothing is written where it
// must not be.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'child_process';
import { createHash, randomBytes } from 'crypto';
import { chmodSync, chownSync, closeSync, readSync, existsSync, lstatSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, statSync, symlinkSync, truncateSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import type { Readable } from 'stream';
import { Pki, Cert, K, serverPki } from './helpers/pki';
import { BIN, HANG_GUARD_MS, RunResult, cleanEnv, runWithSocket, runWithStdio, waitFor } from './helpers/harness';
import { startTlsServer, echo, RunningServer } from './helpers/servers';
import { expectEnd } from './helpers/hostile';

let pki: Pki;
let root: Cert;
let leaf: Cert;
let server: RunningServer;

before(async () => {
  ({ pki, root, leaf } = serverPki());
  server = await startTlsServer({ leaf }, echo);
});
after(async () => {
  await server.close();
  pki.remove();
});

function fifo(name: string): string {
  const path = pki.path(name);
  execFileSync('mkfifo', [path]);
  return path;
}

function hashName(cert: Cert): string {
  return `${execFileSync('openssl', ['x509', '-noout', '-subject_hash', '-in', cert.certPath]).toString().trim()}.0`;
}

/** Every case fails while reading the environment's files, before fds 60/61 (never open) are looked at. */
function runFiles(args: string[], env: Record<string, string>): Promise<RunResult> {
  return runWithStdio([...args, '60', '61'], ['pipe', 'pipe', 'pipe'], { env, timeoutMs: 10_000 });
}

test('devices and FIFOs as CAFILE, CADIR entries, CERTFILE, KEYFILE: refused at once (111), never read', async () => {
  const linkedDir = pki.path('cadir-zero');
  mkdirSync(linkedDir);
  symlinkSync('/dev/zero', join(linkedDir, hashName(root)));
  const fifoDir = pki.path('cadir-fifo');
  mkdirSync(fifoDir);
  execFileSync('mkfifo', [join(fifoDir, hashName(root))]);
  const cases: [string, string[], Record<string, string>, RegExp][] = [
    ['CAFILE=/dev/zero', [], { CAFILE: '/dev/zero' }, /^unable to read trust anchors in \/dev\/zero: a device, not a regular file$/],
    ['CAFILE=/dev/urandom', [], { CAFILE: '/dev/urandom' }, /^unable to read trust anchors in \/dev\/urandom: a device, not a regular file$/],
    ['CAFILE a FIFO', [], { CAFILE: fifo('ca.fifo') }, /^unable to read trust anchors in .*ca\.fifo: a FIFO, not a regular file$/],
    ['CADIR entry linked to /dev/zero', [], { CADIR: linkedDir }, /^unable to read trust anchor .*cadir-zero\/[0-9a-f]{8}\.0: a device, not a regular file$/],
    ['CADIR entry a FIFO', [], { CADIR: fifoDir }, /^unable to read trust anchor .*cadir-fifo\/[0-9a-f]{8}\.0: a FIFO, not a regular file$/],
    ['KEYFILE=/dev/zero', ['-y'], { CAFILE: root.certPath, CERTFILE: leaf.certPath, KEYFILE: '/dev/zero' }, /^unable to read private key \/dev\/zero: a device, not a regular file$/],
    ['CERTFILE a FIFO', ['-y'], { CAFILE: root.certPath, CERTFILE: fifo('cert.fifo'), KEYFILE: leaf.keyPath }, /^unable to read certificate .*cert\.fifo: a FIFO, not a regular file$/],
    ['CAFILE a directory', [], { CAFILE: pki.dir }, /^unable to read trust anchors in .*: a directory, not a regular file$/],
  ];
  for (const [label, args, env, fatal] of cases) {
    const r = await runFiles(args, env);
    try {
      expectEnd(r, { code: 111, fatal });
    } catch (err) {
      assert.fail(`${label}: ${(err as Error).message}`);
    }
  }
});

test('CAFILE=/dev/zero: memory stays bounded (peak RSS from time -f %M)', () => {
  const r = spawnSync('/usr/bin/time', ['-f', '%M', BIN, '60', '61'], { env: cleanEnv({ CAFILE: '/dev/zero' }), timeout: HANG_GUARD_MS });
  assert.equal(r.status, 111, String(r.stderr));
  const lines = String(r.stderr).trim().split('\n');
  assert.match(lines[0], /^s6-tlsc-io: fatal: unable to read trust anchors in \/dev\/zero: a device, not a regular file$/);
  const peakKiB = Number(lines[lines.length - 1]);
  // Node alone is ~45 MiB; reading /dev/zero used to grow past gigabytes.
  assert.ok(peakKiB > 0 && peakKiB < 150 * 1024, `peak RSS ${peakKiB} KiB`);
});

test('a regular file past the cap (16 MiB), even a sparse one: refused as too large (96), read no further', async () => {
  const big = pki.path('big.pem');
  writeFileSync(big, root.certPem);
  truncateSync(big, 16 * 1024 * 1024 + 4096);
  const r = await runFiles([], { CAFILE: big });
  expectEnd(r, { code: 96, fatal: /^trust anchors in .*big\.pem is larger than 16777216 bytes$/ });
});

// ---------------------------------------------------------------- SSLKEYLOGFILE

/** A world-writable sticky directory, like /tmp, where user 65534 and root both put files. */
function sharedDir(name: string): string {
  const dir = mkdtempSync(join(tmpdir(), `s6-tlsc-io-${name}-`));
  chmodSync(dir, 0o1777);
  sharedDirs.push(dir);
  return dir;
}
const sharedDirs: string[] = [];
after(() => {
  for (const dir of sharedDirs) rmSync(dir, { recursive: true, force: true });
});

const NOBODY = { TLS_UID: '65534', TLS_GID: '65534' };

function runKeyLog(keylog: string, drop: boolean): Promise<RunResult> {
  return runWithSocket(server.port, [...K, '6', '7'], { env: { CAFILE: root.certPath, SSLKEYLOGFILE: keylog, ...(drop ? NOBODY : {}) }, stdin: 'k', timeoutMs: 10_000 });
}

test('SSLKEYLOGFILE as root with TLS_UID/TLS_GID: created by the dropped user, 0600, lines appended', async () => {
  assert.equal(process.getuid?.(), 0, 'the test suite runs as root (CI does)');
  const keylog = join(sharedDir('keylog-new'), 'keys.log');
  const r = await runKeyLog(keylog, true);
  assert.equal(r.code, 0, r.stderr);
  const st = statSync(keylog);
  assert.equal(st.uid, 65534);
  assert.equal(st.mode & 0o777, 0o600);
  assert.match(readFileSync(keylog, 'utf8'), /^CLIENT_HANDSHAKE_TRAFFIC_SECRET [0-9a-f]{64} [0-9a-f]+$/m);
});

test('SSLKEYLOGFILE planted by someone else: a symlink, a 0666 file, a file of another user, a FIFO: refused at once (111), nothing written', async () => {
  const dir = sharedDir('keylog-planted');
  const secret = pki.path('root-secret');
  writeFileSync(secret, 'root only\n', { mode: 0o600 });
  const link = join(dir, 'link.log');
  symlinkSync(secret, link);
  const loose = join(dir, 'loose.log');
  writeFileSync(loose, '');
  chownSync(loose, 65534, 65534);
  chmodSync(loose, 0o666);
  const rootOwned = join(dir, 'root.log');
  writeFileSync(rootOwned, '', { mode: 0o600 });
  const rootLoose = join(dir, 'root-loose.log');
  writeFileSync(rootLoose, '');
  chmodSync(rootLoose, 0o644);
  const pipe = join(dir, 'keys.fifo');
  execFileSync('mkfifo', ['-m', '600', pipe]);
  chownSync(pipe, 65534, 65534);
  const cases: [string, string, boolean, RegExp][] = [
    ['a symlink (dropped)', link, true, /: a symbolic link$/],
    ['a symlink (root, no drop)', link, false, /: a symbolic link$/],
    ['a 0666 file of the dropped user', loose, true, /: mode 0666: must be 0600 or stricter$/],
    ["root's 0600 file, opened after the drop", rootOwned, true, /: Permission denied$/],
    ["root's own 0644 file, no drop", rootLoose, false, /: mode 0644: must be 0600 or stricter$/],
    ['a FIFO without a reader', pipe, true, /: not a regular file$/],
  ];
  for (const [label, path, drop, why] of cases) {
    const r = await runKeyLog(path, drop);
    try {
      expectEnd(r, { code: 111, fatal: new RegExp(`^unable to open SSLKEYLOGFILE ${path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}${why.source}`) });
    } catch (err) {
      assert.fail(`${label}: ${(err as Error).message}`);
    }
    assert.equal(r.stdout.length, 0, label);
  }
  assert.equal(readFileSync(secret, 'utf8'), 'root only\n');
  assert.equal(readFileSync(loose, 'utf8'), '');
  assert.equal(lstatSync(link).isSymbolicLink(), true);
});

test('SSLKEYLOGFILE a FIFO with a reader: refused, not written to', async () => {
  const dir = sharedDir('keylog-fifo-read');
  const pipe = join(dir, 'keys.fifo');
  execFileSync('mkfifo', ['-m', '600', pipe]);
  // O_RDWR keeps the FIFO open for reading without blocking this process.
  const reader = openSync(pipe, 'r+');
  try {
    const r = await runKeyLog(pipe, false);
    expectEnd(r, { code: 111, fatal: /^unable to open SSLKEYLOGFILE .*keys\.fifo: not a regular file$/ });
  } finally {
    closeSync(reader);
  }
});

// ---------------------------------------------------------------- -d

/** Runs with the socket at 6 and 7, fds 3 to 5 left closed (Node takes them), -d as given. */
function runNotif(args: string[], extra: Partial<Record<number, number | 'pipe'>> = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const socket = require('net').connect({ port: server.port, host: '127.0.0.1' });
    socket.once('error', reject);
    socket.once('connect', () => {
      const stdio: (string | number | typeof socket)[] = ['pipe', 'pipe', 'pipe', 'ignore', 'ignore', 'ignore', socket, socket];
      for (const [fd, what] of Object.entries(extra)) stdio[Number(fd)] = what as number | 'pipe';
      const child = spawn(BIN, [...args, ...K, '6', '7'], { stdio: stdio as never, env: cleanEnv({ CAFILE: root.certPath }) });
      socket.destroy();
      waitFor(child, Date.now(), { stdin: 'd', timeoutMs: 10_000 }).then(resolve, reject);
    });
  });
}

test('-d 1, -d fdr, -d fdw: usage error (100), the report would go into a data stream', async () => {
  for (const fd of ['1', '6', '7']) {
    const r = await runNotif(['-d', fd]);
    assert.equal(r.code, 100, `-d ${fd}: ${r.stderr}`);
    assert.ok(r.stderr.startsWith(`s6-tlsc-io: usage: notification-fd ${fd} is stdout, fdr or fdw: the report would go into the data stream: s6-tlsc-io [ `), r.stderr);
    assert.equal(r.stdout.length, 0);
  }
});

test("-d at descriptors the caller did not open (Node's own at 5 and 9, a closed 12): 111 before the handshake, never a crash", async () => {
  for (const fd of ['5', '9', '12']) {
    const r = await runNotif(['-d', fd]);
    assert.equal(r.signal, null, `-d ${fd}`);
    expectEnd(r, { code: 111, fatal: new RegExp(`^unable to use notification fd ${fd}: `) });
    assert.equal(r.stdout.length, 0, `-d ${fd}: nothing went through`);
  }
});

test('-d at a descriptor open only for reading: 111; -d 0: no notification, a normal run', async () => {
  const readOnly = openSync(root.certPath, 'r');
  try {
    const r = await runNotif(['-d', '3'], { 3: readOnly });
    expectEnd(r, { code: 111, fatal: /^unable to use notification fd 3: not open for writing$/ });
  } finally {
    closeSync(readOnly);
  }
  const none = await runNotif(['-d', '0']);
  assert.equal(none.code, 0, none.stderr);
  assert.equal(none.stdout.toString(), 'd');
});

// ---------------------------------------------------------------- stdin a regular file

/** Runs against the echo server with stdin the descriptor `stdinFd` (shared with this process: same offset). */
function runFromFd(stdinFd: number): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const socket = require('net').connect({ port: server.port, host: '127.0.0.1' });
    socket.once('error', reject);
    socket.once('connect', () => {
      const stdio = [stdinFd, 'pipe', 'pipe', 'ignore', 'ignore', 'ignore', socket, socket];
      const child = spawn(BIN, [...K, '6', '7'], { stdio: stdio as never, env: cleanEnv({ CAFILE: root.certPath }) });
      socket.destroy();
      waitFor(child, Date.now(), { timeoutMs: 300_000 }).then(resolve, reject);
    });
  });
}

const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

test('stdin a regular file (48 MiB of random bytes): every byte goes out, in order, then our end (sha256 of the echo)', async () => {
  const file = pki.path('upload.bin');
  // Not a multiple of any read size: the last read is a short one.
  const data = randomBytes(48 * 1024 * 1024 + 12345);
  writeFileSync(file, data);
  const fd = openSync(file, 'r');
  try {
    const r = await runFromFd(fd);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.length, data.length);
    assert.equal(sha256(r.stdout), sha256(data));
  } finally {
    closeSync(fd);
  }
});

test('stdin a regular file already read in part: starts at the current offset, as read(2) does', async () => {
  const file = pki.path('offset.bin');
  const data = randomBytes(3 * 1024 * 1024 + 7);
  writeFileSync(file, data);
  const fd = openSync(file, 'r');
  try {
    // What `(head -c 10 >/dev/null; s6-tlsc-io ...) < file` leaves: the offset at 10.
    assert.equal(readSync(fd, Buffer.alloc(10), 0, 10, null), 10);
    const r = await runFromFd(fd);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.length, data.length - 10);
    assert.equal(sha256(r.stdout), sha256(data.subarray(10)));
  } finally {
    closeSync(fd);
  }
});

test('stdin an empty regular file: nothing sent, our end goes out, exit 0', async () => {
  const file = pki.path('empty.bin');
  writeFileSync(file, '');
  const fd = openSync(file, 'r');
  try {
    const r = await runFromFd(fd);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.length, 0);
  } finally {
    closeSync(fd);
  }
});

// ---------------------------------------------------------------- TLS_UID / TLS_GID

test('TLS_UID without TLS_GID, or TLS_GID without TLS_UID, as root: usage error (100); 0 alone changes nothing', async () => {
  const uidOnly = await runFiles([], { CAFILE: root.certPath, TLS_UID: '65534' });
  assert.equal(uidOnly.code, 100);
  assert.equal(uidOnly.stderr, "s6-tlsc-io: fatal: TLS_UID is set without TLS_GID: set both (a uid alone would keep root's groups)\n");
  const gidOnly = await runFiles([], { CAFILE: root.certPath, TLS_GID: '65534' });
  assert.equal(gidOnly.code, 100);
  assert.equal(gidOnly.stderr, 's6-tlsc-io: fatal: TLS_GID is set without TLS_UID: set both (a gid alone would keep running as root)\n');
  const zero = await runWithSocket(server.port, [...K, '6', '7'], { env: { CAFILE: root.certPath, TLS_UID: '0' }, stdin: 'zero' });
  assert.equal(zero.code, 0, zero.stderr);
  assert.equal(zero.stdout.toString(), 'zero');
});

test("as root with supplementary groups (setpriv --groups 4,42): after the drop only TLS_GID is left (/proc)", async () => {
  assert.equal(process.getuid?.(), 0, 'the test suite runs as root (CI does)');
  let status = '';
  const r = await runWithSocket(server.port, ['--groups', '4,42', '--', BIN, '-d', '3', ...K, '6', '7'], {
    bin: '/usr/bin/setpriv',
    env: { CAFILE: root.certPath, TLS_UID: '65534', TLS_GID: '65533' },
    keepStdinOpen: true,
    notificationFd: 3,
    onSpawn: (child) => {
      (child.stdio[3] as Readable).once('end', () => {
        status = readFileSync(`/proc/${child.pid}/status`, 'utf8');
        child.stdin!.end('dropped');
      });
    },
  });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout.toString(), 'dropped');
  assert.match(status, /^Uid:\s+65534\s+65534\s+65534\s+65534$/m);
  assert.match(status, /^Gid:\s+65533\s+65533\s+65533\s+65533$/m);
  assert.match(status, /^Groups:\s+65533\s*$/m);
  assert.equal(existsSync('/usr/bin/setpriv'), true);
});
