// End to end: how prog is wired by s6-tlsc, s6-tlsclient and s6-ucspitlsc.
// Its channels are socket pairs made by spawn: nothing in $TMPDIR, whatever
// $TMPDIR and the umask are; every byte of a large answer reaches prog, also
// when root drops privileges and the engine is a child of its own; each
// direction ends on its own; and descriptors the caller did not open are
// refused before prog could start.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'fs';
import { randomBytes } from 'crypto';
import { join } from 'path';
import { connect } from 'net';
import { once } from 'events';
import { runWithEngineProcess } from '../src/wiring/engine-process';
import { Pki, Cert, serverPki, K } from './helpers/pki';
import { REPO, cleanEnv, runCommand, runWithSocket, sha256, waitFor } from './helpers/harness';
import { startTlsServer, echo } from './helpers/servers';

const TLSC = join(REPO, 'bin', 's6-tlsc');
const TLSCLIENT = join(REPO, 'bin', 's6-tlsclient');
const UCSPITLSC = join(REPO, 'bin', 's6-ucspitlsc');
const TLSC_IO = join(REPO, 'bin', 's6-tlsc-io');
const GENEROUS_MS = 180_000;

let pki: Pki;
let root: Cert;
let leaf: Cert;

before(() => ({ pki, root, leaf } = serverPki()));
after(() => pki.remove());

/** prog: the kinds of its fds 6 and 7, a line to the server, and what came back. */
function probe(tag: string): string[] {
  return ['sh', '-c', `stat -L -c %F /proc/self/fd/6 /proc/self/fd/7 > ${pki.dir}/${tag}.kinds; echo "ping $1" >&7; exec 7>&-; cat <&6 > ${pki.dir}/${tag}.in`, 'probe', tag];
}

test('an unusable TMPDIR or umask 0277 changes nothing: s6-tlsc and s6-tlsclient give prog socket pairs, and nothing appears in a usable TMPDIR', async () => {
  const server = await startTlsServer({ leaf }, echo);
  const readOnly = pki.path('tmp-read-only');
  mkdirSync(readOnly);
  chmodSync(readOnly, 0o500);
  const aFile = pki.path('tmp-a-file');
  writeFileSync(aFile, '');
  const watched = pki.path('tmp-watched');
  mkdirSync(watched);
  try {
    const cases: [string, Record<string, string>, string][] = [
      ['missing', { TMPDIR: join(pki.dir, 'nonexistent') }, ''],
      ['read-only', { TMPDIR: readOnly }, ''],
      ['a file', { TMPDIR: aFile }, ''],
      ['umask 0277', { TMPDIR: watched }, 'umask 0277; '],
      ['watched', { TMPDIR: watched }, ''],
    ];
    for (const [name, tmp, shellPrefix] of cases) {
      const env = { CAFILE: root.certPath, ...tmp };
      const tag = name.replace(/\W/g, '');
      // Under a shell when the umask must change: exec keeps the descriptors.
      const viaTlsc = await runWithSocket(server.port, ['-c', `${shellPrefix}exec "$@"`, 'sh', TLSC, ...K, ...probe(`${tag}-tlsc`)], { bin: 'sh', env, timeoutMs: GENEROUS_MS });
      assert.equal(viaTlsc.code, 0, `${name}: ${viaTlsc.stderr}`);
      const viaClient = await runCommand('sh', ['-c', `${shellPrefix}exec "$@"`, 'sh', TLSCLIENT, '-q', ...K, '127.0.0.1', String(server.port), ...probe(`${tag}-client`)], env);
      assert.equal(viaClient.code, 0, `${name}: ${viaClient.stderr}`);
      for (const who of ['tlsc', 'client']) {
        assert.equal(readFileSync(join(pki.dir, `${tag}-${who}.kinds`), 'utf8'), 'socket\nsocket\n', `${name} ${who}`);
        assert.equal(readFileSync(join(pki.dir, `${tag}-${who}.in`), 'utf8'), `ping ${tag}-${who}\n`, `${name} ${who}`);
      }
    }
    assert.deepEqual(readdirSync(watched), []);
  } finally {
    chmodSync(readOnly, 0o700);
    await server.close();
  }
});

test('s6-ucspitlsc with an unusable TMPDIR: SSLREADFD and SSLWRITEFD are socket pairs, and TLS goes through them', async () => {
  const server = await startTlsServer({ leaf }, echo);
  try {
    for (const TMPDIR of [join(pki.dir, 'nonexistent'), pki.path('ucspi-a-file')]) {
      writeFileSync(pki.path('ucspi-a-file'), '');
      // prog: the kinds, then 'y' on the control socket, a line through TLS, the echo back.
      const prog = ['sh', '-c', 'stat -L -c %F /proc/self/fd/$SSLREADFD /proc/self/fd/$SSLWRITEFD; printf y >&$SSLCTLFD; echo through >&$SSLWRITEFD; head -n1 <&$SSLREADFD'];
      const r = await runWithSocket(server.port, ['-c', 'umask 0277; exec "$@"', 'sh', UCSPITLSC, ...K, ...prog], { bin: 'sh', env: { CAFILE: root.certPath, TMPDIR }, timeoutMs: GENEROUS_MS });
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout.toString(), 'socket\nsocket\nthrough\n', TMPDIR);
    }
  } finally {
    await server.close();
  }
});

test('as root with TLS_UID/TLS_GID: a 6 MiB answer the server sends right after the handshake reaches a late prog whole (sha256), through s6-tlsc and s6-tlsclient', async () => {
  assert.equal(process.getuid?.(), 0, 'the test suite runs as root (CI does)');
  const answer = randomBytes(6 * 1024 * 1024);
  // The server writes at once: the engine child passes it on before prog runs.
  const server = await startTlsServer({ leaf }, (socket) => socket.end(answer));
  const env = { CAFILE: root.certPath, TLS_UID: '65534', TLS_GID: '65534' };
  // prog starts to read only later, and checks its descriptors are blocking.
  const prog = (tag: string): string[] => [
    'sh', '-c', `sleep 1; grep -E '^flags' /proc/self/fdinfo/6 > ${pki.dir}/${tag}.flags; sha256sum <&6 > ${pki.dir}/${tag}.sum`,
  ];
  try {
    const viaTlsc = await runWithSocket(server.port, [...K, ...prog('drop-tlsc')], { bin: TLSC, env, timeoutMs: GENEROUS_MS });
    assert.equal(viaTlsc.code, 0, viaTlsc.stderr);
    const viaClient = await runCommand(TLSCLIENT, ['-q', ...K, '127.0.0.1', String(server.port), ...prog('drop-client')], env);
    assert.equal(viaClient.code, 0, viaClient.stderr);
    for (const tag of ['drop-tlsc', 'drop-client']) {
      assert.equal(readFileSync(join(pki.dir, `${tag}.sum`), 'utf8').split(' ')[0], sha256(answer), tag);
      const flags = parseInt(/flags:\s+([0-7]+)/.exec(readFileSync(join(pki.dir, `${tag}.flags`), 'utf8'))![1], 8);
      assert.equal(flags & 0o4000, 0, `${tag}: prog's fd 6 is O_NONBLOCK`);
    }
  } finally {
    await server.close();
  }
});

test('the engine child\'s answer waits for a prog started late: none of it is read by the parent meanwhile (the engine as s6-tlsc runs it when dropping privileges)', async () => {
  const answer = randomBytes(3 * 1024 * 1024);
  const server = await startTlsServer({ leaf }, (socket) => socket.end(answer));
  const saved = process.env.CAFILE;
  process.env.CAFILE = root.certPath;
  try {
    const socket = connect({ port: server.port, host: '127.0.0.1' });
    await once(socket, 'connect');
    const sum = pki.path('late-prog.sum');
    // prog's environment is ready only a second after the handshake: the
    // engine has long written the server's answer to its cleartext output.
    const extraEnv = new Promise<Record<string, string>>((resolve) => setTimeout(() => resolve({}), 1000));
    const code = await runWithEngineProcess({ socket }, [...K], { argv: ['sh', '-c', `sha256sum <&6 > ${sum}`], rfd: 6, wfd: 7, keepTlsConfig: false, extraEnv });
    assert.equal(code, 0);
    assert.equal(readFileSync(sum, 'utf8').split(' ')[0], sha256(answer));
  } finally {
    if (saved === undefined) delete process.env.CAFILE;
    else process.env.CAFILE = saved;
    await server.close();
  }
});

test('each direction ends on its own: prog ending its writes still gets the whole echo; the server ending first still lets prog read all and exit', async () => {
  const payload = randomBytes(2 * 1024 * 1024);
  writeFileSync(pki.path('half.bin'), payload);
  // The server echoes and ends after its peer's end.
  const server = await startTlsServer({ leaf }, echo);
  // A server that speaks first and ends at once.
  const talker = await startTlsServer({ leaf }, (socket) => socket.end(payload));
  try {
    for (const env of [{ CAFILE: root.certPath }, { CAFILE: root.certPath, TLS_UID: '65534', TLS_GID: '65534' }]) {
      const echoed = await runWithSocket(server.port, [...K, 'sh', '-c', `cat ${pki.path('half.bin')} >&7; exec 7>&-; sha256sum <&6`], { bin: TLSC, env, timeoutMs: GENEROUS_MS });
      assert.equal(echoed.code, 0, echoed.stderr);
      assert.equal(echoed.stdout.toString().split(' ')[0], sha256(payload), JSON.stringify(env));
      // prog's write side stays open while it reads the server's whole answer and EOF.
      const late = await runWithSocket(talker.port, [...K, 'sh', '-c', 'sha256sum <&6'], { bin: TLSC, env, timeoutMs: GENEROUS_MS });
      assert.equal(late.code, 0, late.stderr);
      assert.equal(late.stdout.toString().split(' ')[0], sha256(payload), JSON.stringify(env));
    }
  } finally {
    await server.close();
    await talker.close();
  }
});

test('the server ends first and prog writes afterwards: its writes fail (EPIPE) instead of blocking, as when the C engine has exited, and prog\'s exit code is ours', async () => {
  // The server reads and drops whatever comes, so that nothing waits on it.
  const talker = await startTlsServer({ leaf }, (socket) => {
    socket.resume();
    socket.end('bye\n');
  });
  // prog reads to the end, then writes 4 MiB (more than any socket buffer)
  // with SIGPIPE ignored, and says how the write ended.
  const prog = ['sh', '-c', 'cat <&6 >/dev/null; trap "" PIPE; head -c 4194304 /dev/zero >&7 2>/dev/null; echo "head exit $?"; exit 3'];
  try {
    for (const env of [{ CAFILE: root.certPath }, { CAFILE: root.certPath, TLS_UID: '65534', TLS_GID: '65534' }]) {
      for (const bin of [TLSC, TLSCLIENT]) {
        const r = bin === TLSC
          ? await runWithSocket(talker.port, [...K, ...prog], { bin, env, timeoutMs: GENEROUS_MS })
          : await runCommand(bin, ['-q', ...K, '127.0.0.1', String(talker.port), ...prog], env);
        assert.equal(r.code, 3, `${bin} ${JSON.stringify(env)}: ${r.stderr}`);
        assert.match(r.stdout.toString(), /^head exit [1-9]\d*\n$/, `${bin} ${JSON.stringify(env)}`);
      }
    }
  } finally {
    await talker.close();
  }
});

test('fds 6 and 7 not open (Node takes such numbers for itself at start): every program says so before anything starts, exit 111', async () => {
  const never = pki.path('never-started');
  const cases: [string, string, string[]][] = [
    ['s6-tlsc-io', TLSC_IO, [...K, '6', '7']],
    ['s6-tlsc', TLSC, [...K, 'touch', never]],
    ['s6-ucspitlsc', UCSPITLSC, [...K, 'touch', never]],
  ];
  for (const [name, bin, args] of cases) {
    for (const layout of ['nothing above stderr', 'only 6 open'] as const) {
      const stdio: ('pipe' | 'ignore')[] = ['pipe', 'pipe', 'pipe'];
      if (layout === 'only 6 open') stdio.push('ignore', 'ignore', 'ignore', 'pipe');
      const child = spawn(bin, args, { stdio, env: cleanEnv({ CAFILE: root.certPath }) });
      const r = await waitFor(child, Date.now(), { stdin: 'EHLO x\r\n'.repeat(20000), timeoutMs: GENEROUS_MS });
      assert.equal(r.signal, null, `${name}, ${layout}`);
      assert.equal(r.code, 111, `${name}, ${layout}: ${r.stderr}`);
      const fd = layout === 'only 6 open' ? 7 : 6;
      assert.equal(r.stderr, `${name}: fatal: fd ${fd} is not open: run me under a TCP client such as tcpclient or s6-tcpclient\n`, `${name}, ${layout}`);
      assert.equal(existsSync(never), false, `${name}, ${layout}: prog was started`);
    }
  }
});
