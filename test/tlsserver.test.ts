// s6-tlsserver end to end: the real program listening on 127.0.0.1, Node TLS
// clients, progs that are small shell scripts saying what they were given.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'crypto';
import { once } from 'events';
import { spawn, spawnSync } from 'child_process';
import { freePort } from './helpers/servers';
import { mkdirSync, readFileSync, writeFileSync } from 'fs';
import { join } from 'path';
import { startHaproxy } from './helpers/haproxy';
import { connect as tlsConnect, ConnectionOptions } from 'tls';
import { Pki } from './helpers/pki';
import { HANG_GUARD_MS, sha256 } from './helpers/harness';
import { childrenOf, client, fdCount, progsOf, spawnerOf, startTlsServer, tcp, TLSSERVER, until } from './helpers/tlsserver';

const pki = new Pki();
const root = pki.cert('root', { ca: true });
const leaf = pki.cert('server', { issuer: root, dns: ['server.test'] });
const PAIR = { KEYFILE: leaf.keyPath, CERTFILE: leaf.certPath };
const trust = { ca: [root.certPem], servername: 'server.test' };

/** prog: one line of what it was given, then an echo. */
const SAYS_ENV = ['sh', '-c', 'printf "%s|%s|%s|%s|%s|%s|%s|%s\\n" "$PROTO" "$TCPREMOTEIP" "$TCPREMOTEPORT" "$TCPLOCALPORT" "$TCPCONNNUM" "$SSL_PROTOCOL" "${KEYFILE-unset}" "$(stat -L -c %F /proc/self/fd/0)"; exec cat'];

function firstLine(data: Buffer): { line: string; rest: Buffer } {
  const nl = data.indexOf(10);
  return { line: data.subarray(0, nl).toString(), rest: data.subarray(nl + 1) };
}

test('s6-tlsserver: two clients at once, each echoed whole; prog gets the TCP and SSL variables, socket pairs, no KEYFILE; SIGTERM lets the open one finish, then exit 0', async () => {
  const server = await startTlsServer(['-H', '-v'], SAYS_ENV, PAIR);
  const a = randomBytes(256 * 1024);
  const b = randomBytes(300 * 1024);
  // The first stays open while the second runs: TCPCONNNUM counts both.
  const first = client(server.port, trust, a, true);
  await once(first.socket, 'secureConnect');
  await server.logged(/accept 127\.0\.0\.1 port \d+ pid/);
  const second = client(server.port, trust, b);
  const got2 = await second.done;
  assert.equal(got2.error, undefined, String(got2.error));
  const l2 = firstLine(got2.received);
  assert.equal(l2.line, `TCP|127.0.0.1|${got2.localPort}|${server.port}|2|TLSv1.3|unset|socket`);
  assert.equal(sha256(l2.rest), sha256(b));
  // SIGTERM: no new client, the open one goes on to its end.
  server.child.kill('SIGTERM');
  await server.logged(/received SIGTERM/);
  const late = await tcp(server.port).then(
    (s) => (s.destroy(), 'connected'),
    (err: NodeJS.ErrnoException) => err.code,
  );
  assert.equal(late, 'ECONNREFUSED');
  first.socket.end();
  const got1 = await first.done;
  const l1 = firstLine(got1.received);
  assert.equal(l1.line, `TCP|127.0.0.1|${got1.localPort}|${server.port}|1|TLSv1.3|unset|socket`);
  assert.equal(sha256(l1.rest), sha256(a));
  const end = await server.exited;
  assert.equal(end.code, 0, server.log());
});

test('s6-tlsserver: -c closes the connection over the limit at once, with a warning; -C the one over the limit from one address; a slot freed is used again', async () => {
  const server = await startTlsServer(['-H', '-v', '-c', '2', '-C', '1'], ['cat'], PAIR);
  const one = client(server.port, trust, 'x', true);
  await once(one.socket, 'secureConnect');
  // Same address as `one`: over -C 1.
  const same = await tcp(server.port);
  await once(same, 'close');
  await server.logged(/warning: reject 127\.0\.0\.1 port \d+: 1 connections open from 127\.0\.0\.1/);
  // Another address: within -C, and the second of -c 2.
  const two = client(server.port, { ...trust, localAddress: '127.0.0.2' } as ConnectionOptions, 'y', true);
  await once(two.socket, 'secureConnect');
  const third = await tcp(server.port, '127.0.0.3');
  await once(third, 'close');
  await server.logged(/warning: reject 127\.0\.0\.3 port \d+: 2 connections open, the most -c allows/);
  one.socket.end();
  await one.done;
  await server.logged(/status: 1\/2/);
  const again = client(server.port, trust, 'back');
  assert.equal((await again.done).received.toString(), 'back');
  two.socket.end();
  assert.equal((await two.done).received.toString(), 'y');
  assert.equal((await server.stop()).code, 0);
});

test('s6-tlsserver: a failed handshake and garbage fail their own connection only; prog never starts without a handshake', async () => {
  const marker = pki.path('tlsserver-started');
  const server = await startTlsServer(['-H'], ['sh', '-c', `echo started >> ${marker}; exec cat`], PAIR);
  const held = client(server.port, trust, 'held', true);
  await once(held.socket, 'secureConnect');
  const tls11 = client(server.port, { ...trust, maxVersion: 'TLSv1.1', minVersion: 'TLSv1.1' });
  assert.ok((await tls11.done).error, 'a TLS 1.1 client must be refused');
  const garbage = await tcp(server.port);
  garbage.end('GET / HTTP/1.0\r\n\r\n');
  garbage.resume();
  await once(garbage, 'close');
  // One warning line each, naming the client (OpenSSL 3.0 and 3.5 word the TLS 1.1 refusal differently).
  await server.logged(/warning: 127\.0\.0\.1 port \d+: the client did not speak TLS/);
  await until(() => server.log().match(/warning: 127\.0\.0\.1 port \d+: /g)?.length === 2, `two warning lines: ${server.log()}`);
  held.socket.end();
  assert.equal((await held.done).received.toString(), 'held');
  assert.equal(readFileSync(marker, 'utf8'), 'started\n');
  assert.equal((await server.stop()).code, 0);
});

/**
 * Where progs start: the Python helper (python3 is one of the tests'
 * prerequisites), Node itself, or a fork of the server that serves as the
 * spawner (the first two: for the tests that choose the identities themselves).
 */
const PATHS: [string, Record<string, string>][] = [
  ['the Python helper', {}],
  ['Node (S6_TLSSERVER_PYTHON empty)', { S6_TLSSERVER_PYTHON: '' }],
  ['a fork of the server (root, TLS_UID/TLS_GID, no Python)', { S6_TLSSERVER_PYTHON: '', TLS_UID: '65534', TLS_GID: '65534' }],
];
const SPAWNERS = PATHS.slice(0, 2);

for (const [by, spawnerEnv] of SPAWNERS) {
  test(`s6-tlsserver, progs started by ${by}: a prog that cannot start fails its own connection only, which is closed cleanly`, async () => {
    const missing = await startTlsServer(['-H'], ['/nonexistent/prog'], { ...PAIR, ...spawnerEnv });
    const c1 = client(missing.port, trust, 'x');
    const r1 = await c1.done;
    assert.equal(r1.error, undefined, 'closed with a close_notify, not cut');
    await missing.logged(/warning: 127\.0\.0\.1 port \d+: unable to spawn \/nonexistent\/prog: No such file or directory/);
    const c2 = client(missing.port, trust, 'y');
    await c2.done;
    assert.equal(missing.log().match(/unable to spawn/g)?.length, 2, missing.log());
    assert.equal((await missing.stop()).code, 0);
  });
}

test('s6-tlsserver: progs start through the Python helper when python3 is there, through Node without it or with one too old; prog starts alike either way', async () => {
  const tooOld = pki.path('old-python');
  writeFileSync(tooOld, '#!/bin/sh\nexit 100\n', { mode: 0o755 });
  // prog says who its parent is, then runs what the client asks for: a look
  // at its own signal state, or at its descriptors (ls's directory is one).
  const probe = ['sh', '-c', 'echo "$PPID"; read -r what; if [ "$what" = fd ]; then exec ls /proc/self/fd; else exec grep -E "^Sig(Ign|Blk):" /proc/self/status; fi'];
  const seen: { parent: string; fds: string }[] = [];
  for (const python of [undefined, '', tooOld]) {
    const server = await startTlsServer(['-H'], probe, { ...PAIR, S6_TLSSERVER_PYTHON: python });
    const ask = async (what: string): Promise<string[]> => (await client(server.port, trust, `${what}\n`).done).received.toString().trim().split('\n');
    const [ppid, ...status] = await ask('sig');
    const signals = Object.fromEntries(status.map((l) => l.split(/:\s*/)));
    // Signals 1-31 at their default, none blocked (glibc's posix_spawn leaves its own two, 32 and 33, ignored).
    assert.equal(BigInt(`0x${signals.SigIgn}`) & 0x7fffffffn, 0n, status.join(' '));
    assert.equal(BigInt(`0x${signals.SigBlk}`), 0n, status.join(' '));
    const parent = Number(ppid) === server.child.pid ? 'server' : readFileSync(`/proc/${ppid}/cmdline`, 'latin1').split('\0').join(' ');
    const [, ...fds] = await ask('fd');
    seen.push({ parent, fds: fds.join(' ') });
    if (python === tooOld) assert.match(server.log(), /warning: progs are started by Node: .*old-python is too old/);
    else assert.doesNotMatch(server.log(), /warning/);
    assert.equal((await server.stop()).code, 0);
  }
  assert.match(seen[0].parent, / -I -S - s6-tlsserver-spawner $/);
  assert.deepEqual(seen.slice(1).map((s) => s.parent), ['server', 'server']);
  // Nothing of the server's or the helper's leaks to prog: the same descriptors whoever starts it.
  assert.match(seen[1].fds, /^0 1 2 /);
  assert.deepEqual(seen.map((s) => s.fds), [seen[1].fds, seen[1].fds, seen[1].fds]);
});

for (const [by, spawnerEnv] of PATHS) {
  const needsRoot = 'TLS_UID' in spawnerEnv && process.getuid?.() !== 0;
  test(`s6-tlsserver, progs started by ${by}: prog's first line, then 1 MiB echoed whole, two clients at once`, { skip: needsRoot ? 'needs root (CI runs as root)' : false }, async () => {
    const server = await startTlsServer(['-H'], ['sh', '-c', 'echo hello; exec cat'], { ...PAIR, ...spawnerEnv });
    const payloads = [randomBytes(1 << 20), randomBytes(1 << 20)];
    const runs = payloads.map((payload) => client(server.port, trust, payload));
    for (const [i, run] of runs.entries()) {
      const got = await run.done;
      assert.equal(got.error, undefined, String(got.error));
      assert.equal(got.received.subarray(0, 6).toString(), 'hello\n');
      assert.equal(sha256(got.received.subarray(6)), sha256(payloads[i]));
    }
    assert.doesNotMatch(server.log(), /warning/);
    assert.equal((await server.stop()).code, 0);
  });
}

test('s6-tlsserver: 1000 clients idle in their handshake do not keep a new client from being served', async () => {
  const server = await startTlsServer(['-H', '-v', '-c', '1100', '-C', '1100'], ['cat'], PAIR);
  const idle = [];
  for (let i = 0; i < 1000; i++) idle.push(tcp(server.port));
  const sockets = await Promise.all(idle);
  for (const s of sockets) s.on('error', () => undefined);
  const fresh = client(server.port, trust, 'served');
  assert.equal((await fresh.done).received.toString(), 'served');
  for (const s of sockets) s.destroy();
  await server.logged(/status: 0\/1100/);
  assert.equal((await server.stop()).code, 0);
});

for (const [by, spawnerEnv] of SPAWNERS) {
  test(`s6-tlsserver, progs started by ${by}: SIGHUP sends SIGTERM and SIGCONT to every prog; SIGQUIT does, then exits; SIGABRT kills progs that ignore SIGTERM and exits`, async () => {
    const server = await startTlsServer(['-H', '-v'], ['sh', '-c', 'echo up; exec sleep 600'], { ...PAIR, ...spawnerEnv });
    const a = client(server.port, trust, '', true);
    const b = client(server.port, trust, '', true);
    await Promise.all([once(a.socket, 'data'), once(b.socket, 'data')]);
    server.child.kill('SIGHUP');
    await Promise.all([a.done, b.done]);
    await until(() => (server.log().match(/end pid \d+ signal 15/g) ?? []).length === 2, 'two progs ended by SIGTERM');
    const c = client(server.port, trust, '', true);
    await once(c.socket, 'data');
    server.child.kill('SIGQUIT');
    await c.done;
    assert.equal((await server.exited).code, 0, server.log());

    const stubborn = await startTlsServer(['-H', '-v'], ['sh', '-c', 'trap "" TERM; echo up; while :; do sleep 1; done'], { ...PAIR, ...spawnerEnv });
    const d = client(stubborn.port, trust, '', true);
    await once(d.socket, 'data');
    stubborn.child.kill('SIGABRT');
    await d.done;
    assert.equal((await stubborn.exited).code, 0, stubborn.log());
    assert.match(stubborn.log(), /received SIGABRT/);
  });

  test(`s6-tlsserver, progs started by ${by}: as root with TLS_UID/TLS_GID, the TLS process runs as them and prog with -u/-g/-G; signals still reach prog`, { skip: process.getuid?.() !== 0 ? 'needs root (CI runs as root)' : false }, async () => {
    const server = await startTlsServer(['-H', '-v', '-u', '1234', '-g', '2345', '-G', '2345,3456'], ['sh', '-c', 'echo "$(id -u) $(id -g) $(id -G)"; exec sleep 600'], { ...PAIR, TLS_UID: '65534', TLS_GID: '65533', ...spawnerEnv });
    const status = readFileSync(`/proc/${server.child.pid}/status`, 'utf8');
    // The launcher is Node itself: the spawned pid is the server.
    assert.match(status, /^Uid:\s+65534\s+65534\s+65534\s+65534$/m);
    assert.match(status, /^Gid:\s+65533\s+65533\s+65533\s+65533$/m);
    assert.match(status, /^Groups:\s+65533\s*$/m);
    const a = client(server.port, trust, '', true);
    const [line] = await once(a.socket, 'data');
    assert.equal(String(line), '1234 2345 2345 3456\n');
    // The spawner took prog's whole identity: the Python helper, or a fork of the server when Node starts progs.
    const spawner = spawnerOf(server.child.pid as number);
    assert.ok(spawner);
    assert.match(readFileSync(`/proc/${spawner}/status`, 'utf8'), /^Groups:\s+2345 3456\s*$/m);
    assert.equal(readFileSync(`/proc/${spawner}/cmdline`, 'latin1').includes('s6-tlsserver-spawner'), by.startsWith('the Python'));
    server.child.kill('SIGHUP');
    await a.done;
    await server.logged(/end pid \d+ signal 15/);
    assert.equal((await server.stop()).code, 0);
  });
}

test('s6-tlsserver: 1000 connections, 8 at a time, leave no descriptor and no child behind', async () => {
  const server = await startTlsServer(['-H', '-v'], ['head', '-c', '4'], PAIR);
  const pid = server.child.pid as number;
  // python3 is one of the tests' prerequisites: progs start through the Python helper.
  const spawner = spawnerOf(pid);
  assert.ok(spawner, 'the Python spawner runs');
  const warm = client(server.port, trust, 'warm');
  await warm.done;
  await until(() => progsOf(pid).length === 0, 'the first prog reaped');
  await server.logged(/status: 0\/40/);
  const before = fdCount(pid);
  const spawnerBefore = fdCount(spawner);
  let next = 0;
  let bad = 0;
  const worker = async (): Promise<void> => {
    while (next < 1000) {
      next++;
      const run = client(server.port, trust, 'ping');
      const got = await run.done;
      if (got.received.toString() !== 'ping') bad++;
    }
  };
  await Promise.all(Array.from({ length: 8 }, worker));
  assert.equal(bad, 0);
  await until(() => [...server.log().matchAll(/status: (\d+)\/40/g)].pop()?.[1] === '0', 'every connection over');
  await until(() => progsOf(pid).length === 0, 'every prog reaped');
  assert.deepEqual(childrenOf(pid), [spawner]);
  // A descriptor left per connection would be thousands; closes may lag a turn of the loop.
  await until(() => fdCount(pid) <= before, `descriptors back to ${before} (now ${fdCount(pid)})`);
  await until(() => fdCount(spawner) <= spawnerBefore, `the spawner's descriptors back to ${spawnerBefore} (now ${fdCount(spawner)})`);
  assert.equal((await server.stop()).code, 0);
});

test('s6-tlsserver: usage and start-up errors are one line with the C exit codes', () => {
  const run = (args: string[], env: Record<string, string> = PAIR): { code: number | null; err: string } => {
    const r = spawnSync(TLSSERVER, args, { env: { PATH: process.env.PATH, ...env }, encoding: 'utf8' });
    return { code: r.status, err: r.stderr };
  };
  assert.match(run(['127.0.0.1', '0']).err, /^s6-tlsserver: usage: missing prog: s6-tlsserver \[/);
  assert.equal(run(['127.0.0.1', '0']).code, 100);
  assert.match(run(['not-an-ip', '0', 'cat']).err, /usage: invalid ip: not-an-ip/);
  assert.match(run(['-c', '2', '-C', '3', '127.0.0.1', '0', 'cat']).err, /usage: localmaxconn must be between 1 and maxconn/);
  assert.match(run(['-c', '16385', '127.0.0.1', '0', 'cat']).err, /usage: maxconn must be between 1 and 16384/);
  assert.match(run(['-i', 'a', '-x', 'b', '127.0.0.1', '0', 'cat']).err, /usage: -i and -x are exclusive/);
  assert.match(run(['-6', '127.0.0.1', '0', 'cat']).err, /usage: ip 127\.0\.0\.1 is not an IPv6 address/);
  const noKey = run(['127.0.0.1', '0', 'cat'], {});
  assert.deepEqual([noKey.code, noKey.err], [100, 's6-tlsserver: fatal: KEYFILE not set\n']);
  const badKey = run(['127.0.0.1', '0', 'cat'], { KEYFILE: root.keyPath, CERTFILE: leaf.certPath });
  assert.equal(badKey.code, 96, badKey.err);
  assert.equal(run(['--help']).code, 0);
});

test('s6-tlsserver: an address already in use is exit 111 in words', async () => {
  const server = await startTlsServer(['-H'], ['cat'], PAIR);
  const r = spawnSync(TLSSERVER, ['-H', '127.0.0.1', String(server.port), 'cat'], { env: { PATH: process.env.PATH, ...PAIR }, encoding: 'utf8' });
  assert.equal(r.status, 111);
  assert.equal(r.stderr, `s6-tlsserver: fatal: unable to bind to 127.0.0.1 port ${server.port}: Address already in use\n`);
  assert.equal((await server.stop()).code, 0);
});

test('s6-tlsserver: -B writes the banner in cleartext before the handshake', async () => {
  const server = await startTlsServer(['-H', '-B', 'hello, TLS follows\r\n'], ['cat'], PAIR);
  const raw = await tcp(server.port);
  let banner = Buffer.alloc(0);
  while (banner.length < 20) banner = Buffer.concat([banner, (await once(raw, 'data'))[0] as Buffer]);
  assert.equal(banner.toString(), 'hello, TLS follows\r\n');
  raw.pause();
  const secured = tlsConnect({ socket: raw, ...trust });
  await once(secured, 'secureConnect');
  secured.end('over the banner');
  let back = '';
  secured.on('data', (c: Buffer) => (back += c.toString()));
  await once(secured, 'close');
  assert.equal(back, 'over the banner');
  assert.equal((await server.stop()).code, 0);
});

/** A rules directory: 127.0.0.1 allowed with FOO set and HOME unset, 127.0.0.2 denied, anything else no rule. */
function rulesDir(): string {
  const dir = pki.path('rules');
  mkdirSync(join(dir, 'ip4', '127.0.0.1_32', 'env'), { recursive: true });
  writeFileSync(join(dir, 'ip4', '127.0.0.1_32', 'allow'), '');
  writeFileSync(join(dir, 'ip4', '127.0.0.1_32', 'env', 'FOO'), 'from the rule\n');
  writeFileSync(join(dir, 'ip4', '127.0.0.1_32', 'env', 'HOME'), '');
  mkdirSync(join(dir, 'ip4', '127.0.0.2_32'), { recursive: true });
  writeFileSync(join(dir, 'ip4', '127.0.0.2_32', 'deny'), '');
  return dir;
}

for (const kind of ['-i', '-x'] as const) {
  test(`s6-tlsserver ${kind}: an allowed client gets the rule's variables, a denied one and one no rule allows are closed before the handshake`, async () => {
    const dir = rulesDir();
    let source = dir;
    if (kind === '-x') {
      source = `${dir}.cdb`;
      const made = spawnSync('s6-accessrules-cdb-from-fs', [source, dir], { encoding: 'utf8' });
      assert.equal(made.status, 0, made.stderr);
    }
    const server = await startTlsServer(['-H', '-v', kind, source], ['sh', '-c', 'echo "${FOO-unset}|${HOME-unset}"'], { ...PAIR, HOME: '/root' });
    const allowed = client(server.port, trust);
    assert.equal((await allowed.done).received.toString(), 'from the rule|unset\n');
    for (const from of ['127.0.0.2', '127.0.0.3']) {
      const refused = client(server.port, { ...trust, localAddress: from } as ConnectionOptions);
      const got = await refused.done;
      assert.ok(got.error, `${from} must not get a handshake`);
      assert.equal(got.received.length, 0);
    }
    await server.logged(/deny 127\.0\.0\.2 port \d+\n/);
    await server.logged(/deny 127\.0\.0\.3 port \d+: no rule allows it/);
    assert.equal((await server.stop()).code, 0);
  });
}

test('s6-tlsserver -i: a rules directory that cannot be read is refused at start', () => {
  const r = spawnSync(TLSSERVER, ['-H', '-i', pki.path('no-such-rules'), '127.0.0.1', '0', 'cat'], { env: { PATH: process.env.PATH, ...PAIR }, encoding: 'utf8' });
  assert.equal(r.status, 111, r.stderr);
  assert.match(r.stderr, /^s6-tlsserver: fatal: .*no-such-rules/);
});

test('s6-tlsserver -L: a PROXY header (v1) in cleartext before the ClientHello gives prog the client\'s address; a bad header closes that connection only', async () => {
  const server = await startTlsServer(['-H', '-v', '-L'], ['sh', '-c', 'echo "$TCPREMOTEIP $TCPREMOTEPORT $TCPLOCALIP $TCPLOCALPORT"'], PAIR);
  const through = async (header: string): Promise<string> => {
    const raw = await tcp(server.port);
    raw.write(header);
    const secured = tlsConnect({ socket: raw, ...trust });
    let back = '';
    secured.on('data', (c: Buffer) => (back += c.toString()));
    secured.on('end', () => secured.end());
    await once(secured, 'close');
    return back;
  };
  assert.equal(await through('PROXY TCP4 192.0.2.7 198.51.100.1 40000 443\r\n'), '192.0.2.7 40000 198.51.100.1 443\n');
  const bad = await tcp(server.port);
  bad.end('PROXY TCP4 nonsense\r\n');
  bad.resume();
  await once(bad, 'close');
  await server.logged(/warning: 127\.0\.0\.1 port \d+: invalid PROXY header/);
  // UNKNOWN: the connection's own addresses stay.
  assert.match(await through('PROXY UNKNOWN\r\n'), new RegExp(`^127\\.0\\.0\\.1 \\d+ 127\\.0\\.0\\.1 ${server.port}\n$`));
  assert.equal((await server.stop()).code, 0);
});

test('s6-tlsserver -L behind the real haproxy (send-proxy and send-proxy-v2): prog sees the client\'s own address and port; 1 MiB echoed whole', async (t) => {
  const server = await startTlsServer(['-H', '-L'], ['sh', '-c', 'echo "$TCPREMOTEIP $TCPREMOTEPORT"; exec cat'], PAIR);
  const { v1Port, v2Port } = await startHaproxy(t, server.port);
  for (const front of [v1Port, v2Port]) {
    const payload = randomBytes(1 << 20);
    const run = client(front, trust, payload);
    const got = await run.done;
    assert.equal(got.error, undefined, String(got.error));
    const { line, rest } = firstLine(got.received);
    assert.equal(line, `127.0.0.1 ${got.localPort}`);
    assert.equal(sha256(rest), sha256(payload));
  }
  assert.equal((await server.stop()).code, 0);
});

test('s6-tlsserver under s6-supervise: -1 is its readiness (s6-svwait -U returns once it listens); s6-svc -d stops it', async (t) => {
  const service = pki.path('tlsserver-service');
  mkdirSync(service, { recursive: true });
  const port = await freePort();
  // s6-supervise reads readiness from the descriptor named in notification-fd.
  writeFileSync(join(service, 'notification-fd'), '3\n');
  writeFileSync(
    join(service, 'run'),
    `#!/bin/sh\nexec env KEYFILE='${leaf.keyPath}' CERTFILE='${leaf.certPath}' '${TLSSERVER}' -1 -H -- 127.0.0.1 ${port} cat 1>&3\n`,
    { mode: 0o755 },
  );
  const supervise = spawn('s6-supervise', [service], { stdio: 'ignore' });
  t.after(async () => {
    spawnSync('s6-svc', ['-xd', service]);
    if (supervise.exitCode === null) await once(supervise, 'exit');
  });
  const ready = spawnSync('s6-svwait', ['-U', '-t', String(HANG_GUARD_MS), service], { encoding: 'utf8' });
  assert.equal(ready.status, 0, ready.stderr);
  const run = client(port, trust, 'supervised');
  assert.equal((await run.done).received.toString(), 'supervised');
  assert.equal(spawnSync('s6-svc', ['-d', service]).status, 0);
  const down = spawnSync('s6-svwait', ['-D', '-t', String(HANG_GUARD_MS), service], { encoding: 'utf8' });
  assert.equal(down.status, 0, down.stderr);
  // Down means exited: the port is free again.
  const refused = await tcp(port).then((s) => (s.destroy(), 'connected'), (err: NodeJS.ErrnoException) => err.code);
  assert.equal(refused, 'ECONNREFUSED');
});
