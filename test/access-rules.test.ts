// The access rules s6-tlsserver takes from s6-tcpserver-access (-i rulesdir,
// -x rulesfile): the keys libs6 walks, the envdir reading of env/, exec, the
// cdb that the real s6-accessrules-cdb-from-fs writes giving the very verdicts
// the directory gives, and rules files that would stall or flood a server.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { dirname, join } from 'path';
import { AccessRules, AccessVerdict, formatIp6, rulesFromCdb, rulesFromDir } from '../src/server/access-rules';
import { EXIT_SYSTEM, FatalError, UsageError } from '../src/base/errors';

const made: string[] = [];
after(() => {
  for (const dir of made) rmSync(dir, { recursive: true, force: true });
});

/** A fresh temporary directory, removed when the file's tests end. */
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'access-rules-'));
  made.push(dir);
  return dir;
}

/** A rules directory from relative paths and their contents. */
function rulesDir(files: Record<string, string | Buffer>): string {
  const root = join(tempDir(), 'rules');
  mkdirSync(root);
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), content);
  }
  return root;
}

/** The verdict as plain data, so that deepEqual compares env too. */
function plain(verdict: AccessVerdict): unknown {
  if (verdict.kind !== 'allow') return { kind: verdict.kind };
  return { kind: 'allow', env: Object.fromEntries(verdict.env), exec: verdict.exec };
}

function kindOf(rules: AccessRules, ip: string, host?: string): string {
  return rules.check(ip, host).kind;
}

/** The FatalError check() throws, with the words it must hold. */
function assertRefused(run: () => unknown, words: RegExp): void {
  assert.throws(run, (err: unknown) => {
    assert.ok(err instanceof FatalError, `a FatalError, not ${String(err)}`);
    assert.equal(err.exitCode, EXIT_SYSTEM);
    assert.match(err.message, words);
    return true;
  });
}

test('IPv4: an exact /32, a prefix, the longest prefix first, 0.0.0.0_0 for everyone else', () => {
  const root = rulesDir({
    'ip4/192.0.2.7_32/allow': '',
    'ip4/10.0.0.0_8/deny': '',
    'ip4/10.1.0.0_16/allow': '',
    'ip4/10.1.2.0_24/deny': '',
    'ip4/0.0.0.0_0/deny': '',
  });
  const rules = rulesFromDir(root);
  assert.equal(kindOf(rules, '192.0.2.7'), 'allow');
  // Its neighbour is not it: only the catch-all is left.
  assert.equal(kindOf(rules, '192.0.2.8'), 'deny');
  assert.equal(kindOf(rules, '10.200.0.1'), 'deny'); // 10.0.0.0_8
  assert.equal(kindOf(rules, '10.1.99.1'), 'allow'); // 10.1.0.0_16 before 10.0.0.0_8
  assert.equal(kindOf(rules, '10.1.2.3'), 'deny'); // 10.1.2.0_24 before 10.1.0.0_16
  rmSync(join(root, 'ip4/0.0.0.0_0'), { recursive: true });
  assert.equal(kindOf(rules, '192.0.2.8'), 'none', 'without the catch-all nothing matches');
});

test('IPv4: prefix keys are written with the host bits cleared, odd lengths too', () => {
  // 172.16.5.9 under /20 is 172.16.0.0; /23 is 172.16.4.0.
  const rules = rulesFromDir(rulesDir({ 'ip4/172.16.4.0_23/allow': '', 'ip4/172.16.0.0_20/deny': '' }));
  assert.equal(kindOf(rules, '172.16.5.9'), 'allow');
  assert.equal(kindOf(rules, '172.16.6.1'), 'deny');
  assert.equal(kindOf(rules, '172.16.16.1'), 'none');
  const top = rulesFromDir(rulesDir({ 'ip4/128.0.0.0_1/allow': '' }));
  assert.equal(kindOf(top, '200.1.1.1'), 'allow');
  assert.equal(kindOf(top, '100.1.1.1'), 'none');
});

test('allow wins over deny in the same rule, as the fs backend looks for allow first', () => {
  const rules = rulesFromDir(rulesDir({ 'ip4/192.0.2.1_32/allow': '', 'ip4/192.0.2.1_32/deny': '' }));
  assert.equal(kindOf(rules, '192.0.2.1'), 'allow');
});

test('IPv6 prefix text is skalibs\' canonical form', () => {
  const bytes = (groups: number[]): Uint8Array => Uint8Array.from(groups.flatMap((g) => [g >> 8, g & 255]));
  assert.equal(formatIp6(bytes([0x2001, 0xdb8, 0, 0, 1, 0, 0, 1])), '2001:db8::1:0:0:1'); // the first of two equal runs
  assert.equal(formatIp6(bytes([0x2001, 0xdb8, 0, 1, 0, 0, 0, 1])), '2001:db8:0:1::1'); // the longest run
  assert.equal(formatIp6(bytes([0x2001, 0xdb8, 0, 1, 2, 3, 4, 5])), '2001:db8:0:1:2:3:4:5'); // one zero group stays
  assert.equal(formatIp6(bytes([0, 0, 0, 0, 0, 0, 0, 0])), '::');
  assert.equal(formatIp6(bytes([0, 0, 0, 0, 0, 0, 0, 1])), '::1');
  assert.equal(formatIp6(bytes([0xfe80, 0, 0, 0, 0, 0, 0, 0])), 'fe80::');
  assert.equal(formatIp6(bytes([0xabcd, 0, 0, 0, 0, 0xffff, 0xc000, 0x207])), 'abcd::ffff:c000:207');
});

test('IPv6: the exact address, a /32 and a /0, found under their canonical names only', () => {
  const root = rulesDir({
    'ip6/2001:db8::1_128/deny': '',
    'ip6/2001:db8::_32/allow': '',
    'ip6/2001:db8:aaaa::_48/deny': '',
    'ip6/::_0/deny': '',
    // Not canonical: never a key, so never consulted.
    'ip6/2001:0db8:bbbb::_48/deny': '',
  });
  const rules = rulesFromDir(root);
  assert.equal(kindOf(rules, '2001:db8::1'), 'deny');
  assert.equal(kindOf(rules, '2001:db8::2'), 'allow');
  assert.equal(kindOf(rules, '2001:DB8:0:0::2'), 'allow', 'any spelling of the address');
  assert.equal(kindOf(rules, '2001:db8:aaaa:1::5'), 'deny');
  assert.equal(kindOf(rules, '2001:db8:bbbb::5'), 'allow', 'the non-canonical rule is not read');
  assert.equal(kindOf(rules, '2001:db9::1'), 'deny');
  assert.equal(kindOf(rules, 'fe80::1%eth0'), 'deny', 'a scope is not part of the address');
  // A prefix that ends inside a group: 2001:db8:8000::/33 holds 2001:db8:8123::1.
  const mid = rulesFromDir(rulesDir({ 'ip6/2001:db8:8000::_33/allow': '' }));
  assert.equal(kindOf(mid, '2001:db8:8123::1'), 'allow');
  assert.equal(kindOf(mid, '2001:db8:7fff::1'), 'none');
});

test('an IPv4-mapped IPv6 address, as a dual-stack socket reports an IPv4 client, is checked as IPv4', () => {
  const rules = rulesFromDir(rulesDir({ 'ip4/192.0.2.0_24/allow': '', 'ip6/::_0/deny': '' }));
  assert.equal(kindOf(rules, '::ffff:192.0.2.9'), 'allow');
  assert.equal(kindOf(rules, '::ffff:c000:209'), 'allow', 'the hex spelling is the same address');
  assert.equal(kindOf(rules, '::ffff:198.51.100.1'), 'none', 'no ip4 rule: ip6/::_0 is not consulted');
  assert.equal(kindOf(rules, '::192.0.2.9'), 'deny', 'IPv4-compatible is not mapped: it stays IPv6');
});

test('reverse DNS: only when the address matched nothing; the name, its suffixes, then @', () => {
  const root = rulesDir({
    'ip4/192.0.2.1_32/deny': '',
    'reversedns/host.example.com/allow': '',
    'reversedns/example.com/deny': '',
    'reversedns/org/allow': '',
  });
  const rules = rulesFromDir(root);
  assert.equal(kindOf(rules, '198.51.100.1', 'host.example.com'), 'allow');
  assert.equal(kindOf(rules, '198.51.100.1', 'host.example.com.'), 'allow', 'one final dot is dropped');
  assert.equal(kindOf(rules, '198.51.100.1', 'other.example.com'), 'deny');
  assert.equal(kindOf(rules, '198.51.100.1', 'a.b.example.org'), 'allow');
  assert.equal(kindOf(rules, '198.51.100.1', 'example.net'), 'none');
  assert.equal(kindOf(rules, '198.51.100.1'), 'none', 'no name, no name rules');
  assert.equal(kindOf(rules, '198.51.100.1', ''), 'none', 'an empty name is no name');
  assert.equal(kindOf(rules, '192.0.2.1', 'host.example.com'), 'deny', 'the address rule came first');
  mkdirSync(join(root, 'reversedns/@'));
  writeFileSync(join(root, 'reversedns/@/allow'), '');
  assert.equal(kindOf(rules, '198.51.100.1', 'example.net'), 'allow', '@ for every name');
  assert.equal(kindOf(rules, '198.51.100.1'), 'none', '@ needs a name');
});

test('a hostile PTR name cannot make the rules directory look outside reversedns/', () => {
  const root = rulesDir({ 'evil/allow': '', 'reversedns/allow': '', 'reversedns/example.com/allow': '' });
  const rules = rulesFromDir(root);
  assert.equal(kindOf(rules, '198.51.100.1', 'a/../../evil'), 'none');
  assert.equal(kindOf(rules, '198.51.100.1', '..'), 'none');
  assert.equal(kindOf(rules, '198.51.100.1', '.'), 'none');
  assert.equal(kindOf(rules, '198.51.100.1', 'x..'), 'none');
  // A suffix that is a plain name is still looked up.
  assert.equal(kindOf(rules, '198.51.100.1', 'a/b.example.com'), 'allow');
});

test('env/: the first line, trailing blanks cut, an empty file unsets, NUL is a newline, dot files and = skipped', () => {
  const rules = rulesFromDir(rulesDir({
    'ip4/0.0.0.0_0/allow': '',
    'ip4/0.0.0.0_0/env/FIRST': 'one line \t\r\nsecond line\n',
    'ip4/0.0.0.0_0/env/UNSET': '',
    'ip4/0.0.0.0_0/env/EMPTY': '\n',
    'ip4/0.0.0.0_0/env/LEAD': '  kept\n',
    'ip4/0.0.0.0_0/env/NUL': Buffer.from('a\0b'),
    'ip4/0.0.0.0_0/env/NOEOL': 'no newline',
    'ip4/0.0.0.0_0/env/UTF': 'caf\u00e9\n',
    'ip4/0.0.0.0_0/env/.hidden': 'x',
    'ip4/0.0.0.0_0/env/A=B': 'x',
  }));
  const verdict = rules.check('192.0.2.1');
  assert.deepEqual(plain(verdict), {
    kind: 'allow',
    env: { FIRST: 'one line', UNSET: undefined, EMPTY: '', LEAD: '  kept', NUL: 'a\nb', NOEOL: 'no newline', UTF: 'caf\u00e9' },
    exec: undefined,
  });
  assert.ok(verdict.kind === 'allow' && verdict.env.has('UNSET'), 'an unset is a change, not an absence');
});

test('exec: its content is returned; an empty file is none; a NUL ends it, as the C string it becomes', () => {
  const rules = rulesFromDir(rulesDir({
    'ip4/192.0.2.1_32/allow': '',
    'ip4/192.0.2.1_32/exec': 'fdmove -c 2 1\ncat\n',
    'ip4/192.0.2.2_32/allow': '',
    'ip4/192.0.2.2_32/exec': '',
    'ip4/192.0.2.3_32/allow': '',
    'ip4/192.0.2.3_32/exec': Buffer.from('echo hi\0rm -rf /'),
    'ip4/192.0.2.4_32/deny': '',
    'ip4/192.0.2.4_32/exec': 'ignored',
    'ip4/192.0.2.5_32/allow': '',
    'ip4/192.0.2.5_32/exec': Buffer.from('\0echo hidden'),
  }));
  assert.deepEqual(plain(rules.check('192.0.2.1')), { kind: 'allow', env: {}, exec: 'fdmove -c 2 1\ncat\n' });
  assert.deepEqual(plain(rules.check('192.0.2.2')), { kind: 'allow', env: {}, exec: undefined });
  assert.deepEqual(plain(rules.check('192.0.2.3')), { kind: 'allow', env: {}, exec: 'echo hi' });
  assert.deepEqual(plain(rules.check('192.0.2.4')), { kind: 'deny' });
  // Not empty, so C runs it (as an empty script) instead of prog: an exec of "".
  assert.deepEqual(plain(rules.check('192.0.2.5')), { kind: 'allow', env: {}, exec: '' });
});

test('-i reads the directory at every check: a rule added or removed applies to the next client', () => {
  const root = rulesDir({ 'ip4/0.0.0.0_0/deny': '' });
  const rules = rulesFromDir(root);
  assert.equal(kindOf(rules, '192.0.2.1'), 'deny');
  mkdirSync(join(root, 'ip4/192.0.2.1_32/env'), { recursive: true });
  writeFileSync(join(root, 'ip4/192.0.2.1_32/allow'), '');
  writeFileSync(join(root, 'ip4/192.0.2.1_32/env/ROLE'), 'admin\n');
  assert.deepEqual(plain(rules.check('192.0.2.1')), { kind: 'allow', env: { ROLE: 'admin' }, exec: undefined });
  rmSync(join(root, 'ip4/192.0.2.1_32'), { recursive: true });
  assert.equal(kindOf(rules, '192.0.2.1'), 'deny');
});

/** The rules directory that the cdb parity test converts, with every kind of rule. */
const PARITY_RULES: Record<string, string | Buffer> = {
  'ip4/192.0.2.7_32/allow': '',
  'ip4/192.0.2.7_32/env/SET': 'value  \nrest\n',
  'ip4/192.0.2.7_32/env/UNSET': '',
  'ip4/192.0.2.7_32/env/EMPTY': '\n',
  'ip4/192.0.2.7_32/env/NUL': Buffer.from('x\0y'),
  'ip4/192.0.2.7_32/exec': 'if { echo hello } cat\n',
  'ip4/192.0.2.0_24/deny': '',
  'ip4/10.0.0.0_8/allow': '',
  'ip4/10.0.0.0_8/env/NET': 'ten',
  'ip4/10.1.0.0_16/deny': '',
  'ip4/198.51.100.0_24/allow': '',
  'ip4/198.51.100.0_24/exec': Buffer.from('\0hidden'),
  'ip6/2001:db8::_32/allow': '',
  'ip6/2001:db8::_32/env/V6': 'yes',
  'ip6/2001:db8::1_128/deny': '',
  'ip6/fe80::_10/allow': '',
  'ip6/fe80::_10/exec': 'echo link-local',
  'reversedns/example.com/allow': '',
  'reversedns/example.com/env/DOMAIN': 'example.com',
  'reversedns/bad.example.com/deny': '',
  'reversedns/@/deny': '',
};

const PARITY_CLIENTS: Array<[string, string?]> = [
  ['192.0.2.7'], ['::ffff:192.0.2.7'], ['198.51.100.3'], ['192.0.2.8'], ['10.9.9.9'], ['10.1.2.3'], ['203.0.113.5'],
  ['203.0.113.5', 'www.example.com'], ['203.0.113.5', 'a.bad.example.com'], ['203.0.113.5', 'example.org'],
  ['2001:db8::1'], ['2001:db8::2'], ['2001:db8:ffff::9'], ['fe80::1'], ['febf::1'], ['2001:db9::1'],
  ['2001:db9::1', 'example.com.'], ['10.9.9.9', 'bad.example.com'],
];

test('-x: the cdb the real s6-accessrules-cdb-from-fs makes gives the verdicts the directory gives', () => {
  const root = rulesDir(PARITY_RULES);
  const cdb = join(dirname(root), 'rules.cdb');
  execFileSync('s6-accessrules-cdb-from-fs', [cdb, root]);
  const fromDir = rulesFromDir(root);
  const fromCdb = rulesFromCdb(cdb);
  const kinds = new Set<string>();
  for (const [ip, host] of PARITY_CLIENTS) {
    const expected = plain(fromDir.check(ip, host));
    assert.deepEqual(plain(fromCdb.check(ip, host)), expected, `${ip} ${host ?? ''}`);
    kinds.add((expected as { kind: string }).kind);
  }
  // The comparison covered every outcome, and the directory read what was written.
  assert.deepEqual([...kinds].sort(), ['allow', 'deny', 'none']);
  assert.deepEqual(plain(fromCdb.check('192.0.2.7')), {
    kind: 'allow',
    env: { SET: 'value', UNSET: undefined, EMPTY: '', NUL: 'x\ny' },
    exec: 'if { echo hello } cat\n',
  });
  assert.deepEqual(plain(fromCdb.check('198.51.100.3')), { kind: 'allow', env: {}, exec: '' });
  assert.deepEqual(plain(fromCdb.check('2001:db8::5')), { kind: 'allow', env: { V6: 'yes' }, exec: undefined });
  assert.deepEqual(plain(fromCdb.check('fe80::1')), { kind: 'allow', env: {}, exec: 'echo link-local' });
  assert.deepEqual(plain(fromCdb.check('203.0.113.5', 'www.example.com')), { kind: 'allow', env: { DOMAIN: 'example.com' }, exec: undefined });
  assert.equal(kindOf(fromCdb, '203.0.113.5', 'example.org'), 'deny'); // reversedns/@
});

test('-x: a new cdb put in place (as the tool does, by rename) applies to the next check', () => {
  const root = rulesDir({ 'ip4/0.0.0.0_0/deny': '' });
  const cdb = join(dirname(root), 'rules.cdb');
  execFileSync('s6-accessrules-cdb-from-fs', [cdb, root]);
  const rules = rulesFromCdb(cdb);
  assert.equal(kindOf(rules, '192.0.2.1'), 'deny');
  rmSync(join(root, 'ip4/0.0.0.0_0/deny'));
  writeFileSync(join(root, 'ip4/0.0.0.0_0/allow'), '');
  execFileSync('s6-accessrules-cdb-from-fs', [cdb, root]);
  assert.equal(kindOf(rules, '192.0.2.1'), 'allow');
});

test('a missing rules directory or cdb is a clear error, at the start and at a later check', () => {
  const dir = tempDir();
  assertRefused(() => rulesFromDir(join(dir, 'nowhere')), /^unable to read rules directory .*nowhere: No such file or directory$/);
  writeFileSync(join(dir, 'file'), '');
  assertRefused(() => rulesFromDir(join(dir, 'file')), /rules directory .*file: Not a directory$/);
  assertRefused(() => rulesFromCdb(join(dir, 'nowhere.cdb')), /^unable to read rules file .*nowhere\.cdb: No such file or directory$/);
  assertRefused(() => rulesFromCdb(join(dir, 'file')), /not a cdb \(0 bytes\)/);

  const root = rulesDir({ 'ip4/192.0.2.1_32/allow': '' });
  const rules = rulesFromDir(root);
  rmSync(root, { recursive: true });
  assertRefused(() => rules.check('192.0.2.9'), /rules directory .*: No such file or directory/);
  const cdbRoot = rulesDir({ 'ip4/192.0.2.1_32/allow': '' });
  const cdb = join(dirname(cdbRoot), 'rules.cdb');
  execFileSync('s6-accessrules-cdb-from-fs', [cdb, cdbRoot]);
  const fromCdb = rulesFromCdb(cdb);
  rmSync(cdb);
  assertRefused(() => fromCdb.check('192.0.2.1'), /rules file .*rules\.cdb: No such file or directory/);
});

test('an address that is not one is a usage error (C dies 100 on such a TCPREMOTEIP)', () => {
  const rules = rulesFromDir(rulesDir({ 'ip4/0.0.0.0_0/allow': '' }));
  for (const bad of ['', 'localhost', '1.2.3', '192.0.2.1/24', '::g']) {
    assert.throws(() => rules.check(bad), (err: unknown) => err instanceof UsageError && /^invalid client address/.test(err.message), bad);
  }
});

/**
 * check() in a child process with a time limit: a FIFO that blocked the
 * open would hang this test file for good, so the child is the one to hang.
 */
function checkInChild(root: string, ip: string, user?: { uid: number; gid: number }): { status: number | null; out: string; ms: number } {
  // The ids are taken inside the child, not by spawn: the Node binary
  // (Node 26 in CI, under root's home) may be one that user cannot run.
  const drop = user ? `process.setgroups([${user.gid}]); process.setgid(${user.gid}); process.setuid(${user.uid});` : '';
  const script = `${drop}
    const { rulesFromDir } = require(${JSON.stringify(join(__dirname, '..', 'src', 'server', 'access-rules.js'))});
    try { console.log(JSON.stringify(rulesFromDir(${JSON.stringify(root)}).check(${JSON.stringify(ip)}))); }
    catch (err) { console.log(err.name + ': ' + err.message); }`;
  const start = Date.now();
  const child = spawnSync(process.execPath, ['-e', script], { timeout: 10_000, encoding: 'utf8' });
  return { status: child.status, out: child.stdout.trim(), ms: Date.now() - start };
}

test('a FIFO in env/ or as exec does not block: the rule is refused at once', () => {
  const root = rulesDir({ 'ip4/0.0.0.0_0/allow': '', 'ip4/192.0.2.2_32/allow': '' });
  mkdirSync(join(root, 'ip4/0.0.0.0_0/env'));
  execFileSync('mkfifo', [join(root, 'ip4/0.0.0.0_0/env/PIPE')]);
  execFileSync('mkfifo', [join(root, 'ip4/192.0.2.2_32/exec')]);
  for (const [ip, file] of [['192.0.2.1', 'env/PIPE'], ['192.0.2.2', 'exec']]) {
    const run = checkInChild(root, ip);
    assert.equal(run.status, 0, `the check returned (${run.ms} ms)`);
    assert.match(run.out, new RegExp(`^FatalError: unable to check fs ruleset for IP in .*${file}: not a regular file$`));
  }
});

test('oversized files: a cut value or command line is refused, a long file with a short first line is read', () => {
  const line = 'x'.repeat(4000);
  const root = rulesDir({
    'ip4/192.0.2.1_32/allow': '',
    'ip4/192.0.2.1_32/env/LONG': `${line}\n${'y'.repeat(100_000)}`,
    'ip4/192.0.2.2_32/allow': '',
    'ip4/192.0.2.2_32/env/TOOLONG': `${'x'.repeat(4096)}\n`,
    'ip4/192.0.2.3_32/allow': '',
    'ip4/192.0.2.3_32/exec': 'e'.repeat(4096),
    'ip4/192.0.2.4_32/allow': '',
    'ip4/192.0.2.4_32/exec': 'e'.repeat(4097),
    'ip4/192.0.2.5_32/allow': '',
  });
  const rules = rulesFromDir(root);
  const first = rules.check('192.0.2.1');
  assert.ok(first.kind === 'allow' && first.env.get('LONG') === line, 'the first line is whole, the rest never read');
  assertRefused(() => rules.check('192.0.2.2'), /env\/TOOLONG: a first line longer than 4095 bytes$/);
  const exec = rules.check('192.0.2.3');
  assert.ok(exec.kind === 'allow' && exec.exec?.length === 4096, '4096 bytes of exec are whole');
  assertRefused(() => rules.check('192.0.2.4'), /exec: larger than 4096 bytes$/);
  // More changes than the 4096 bytes a cdb rule may hold.
  mkdirSync(join(root, 'ip4/192.0.2.5_32/env'));
  for (let i = 0; i < 300; i++) writeFileSync(join(root, `ip4/192.0.2.5_32/env/VARIABLE_${i}`), 'value\n');
  assertRefused(() => rules.check('192.0.2.5'), /env: more than 4096 bytes of environment changes$/);
});

test('env/ entries: a symlink to a regular file is followed as C does; to a device, a directory, unreadable: refused', () => {
  const root = rulesDir({ 'ip4/0.0.0.0_0/allow': '', 'ip4/0.0.0.0_0/env/.keep': '', 'target': 'linked\n' });
  const env = join(root, 'ip4/0.0.0.0_0/env');
  symlinkSync(join(root, 'target'), join(env, 'LINKED'));
  const rules = rulesFromDir(root);
  assert.deepEqual(plain(rules.check('192.0.2.1')), { kind: 'allow', env: { LINKED: 'linked' }, exec: undefined });
  symlinkSync('/dev/zero', join(env, 'ZERO'));
  assertRefused(() => rules.check('192.0.2.1'), /env\/ZERO: not a regular file$/);
  rmSync(join(env, 'ZERO'));
  mkdirSync(join(env, 'SUBDIR'));
  assertRefused(() => rules.check('192.0.2.1'), /env\/SUBDIR: a directory, not a file$/);
  rmSync(join(env, 'SUBDIR'), { recursive: true });
  symlinkSync(join(root, 'nothing'), join(env, 'DANGLING'));
  assertRefused(() => rules.check('192.0.2.1'), /env\/DANGLING: No such file or directory$/);
});

test('an unreadable env file breaks the rule; an unreadable exec is ignored, as C does', () => {
  const root = rulesDir({
    'ip4/192.0.2.1_32/allow': '',
    'ip4/192.0.2.1_32/env/SECRET': 'x\n',
    'ip4/192.0.2.2_32/allow': '',
    'ip4/192.0.2.2_32/exec': 'echo secret',
  });
  chmodSync(join(root, 'ip4/192.0.2.1_32/env/SECRET'), 0);
  chmodSync(join(root, 'ip4/192.0.2.2_32/exec'), 0);
  // root reads everything: check as nobody, the temporary tree open to it.
  const asRoot = process.geteuid?.() === 0;
  if (asRoot) for (let dir = root; dir !== dirname(dirname(root)); dir = dirname(dir)) chmodSync(dir, 0o755);
  const rules = rulesFromDir(root);
  if (asRoot) process.seteuid!(65534);
  try {
    assertRefused(() => rules.check('192.0.2.1'), /env\/SECRET: Permission denied$/);
    assert.deepEqual(plain(rules.check('192.0.2.2')), { kind: 'allow', env: {}, exec: undefined });
  } finally {
    if (asRoot) process.seteuid!(0);
  }
});

test('an allow that may not be read is no allow (access(R_OK) fails with EACCES): deny, or no rule', () => {
  const root = rulesDir({
    'ip4/192.0.2.1_32/allow': '',
    'ip4/192.0.2.1_32/deny': '',
    'ip4/192.0.2.2_32/allow': '',
  });
  chmodSync(join(root, 'ip4/192.0.2.1_32/allow'), 0);
  chmodSync(join(root, 'ip4/192.0.2.2_32/allow'), 0);
  // access() asks as the real user, and root may read everything: the child runs as nobody.
  const asRoot = process.geteuid?.() === 0;
  if (asRoot) for (let dir = root; dir !== dirname(dirname(root)); dir = dirname(dir)) chmodSync(dir, 0o755);
  const user = asRoot ? { uid: 65534, gid: 65534 } : undefined;
  assert.equal(checkInChild(root, '192.0.2.1', user).out, '{"kind":"deny"}');
  assert.equal(checkInChild(root, '192.0.2.2', user).out, '{"kind":"none"}');
});

test('cdb records: what the reader accepts and refuses, in a cdb written here', () => {
  const dir = tempDir();
  const path = join(dir, 'hand.cdb');
  const allow = (env: string, exec: string): Buffer => {
    const e = Buffer.from(env);
    const x = Buffer.from(exec);
    const head = Buffer.alloc(3);
    head[0] = 0x41;
    head.writeUInt16BE(e.length, 1);
    const mid = Buffer.alloc(2);
    mid.writeUInt16BE(x.length);
    return Buffer.concat([head, e, mid, x]);
  };
  writeFileSync(path, makeCdb([
    ['ip4/192.0.2.1_32', allow('A=1\0B\0A=2\0', 'prog')],
    ['ip4/192.0.2.2_32', Buffer.from('D')],
    ['ip4/192.0.2.3_32', Buffer.from('Xanything')],
    ['ip4/192.0.2.4_32', Buffer.from('A\0\x05ab')],
    ['ip4/192.0.2.5_32', allow('NOEND', '')],
    ['ip4/192.0.2.6_32', Buffer.concat([allow('', 'x'), Buffer.from('extra')])],
  ]));
  const rules = rulesFromCdb(path);
  // A later change of a name wins, as env_merge applies them in order.
  assert.deepEqual(plain(rules.check('192.0.2.1')), { kind: 'allow', env: { A: '2', B: undefined }, exec: 'prog' });
  assert.equal(kindOf(rules, '192.0.2.2'), 'deny');
  assert.equal(kindOf(rules, '192.0.2.3'), 'none', 'neither A nor D: no rule');
  assertRefused(() => rules.check('192.0.2.4'), /environment length/);
  assertRefused(() => rules.check('192.0.2.5'), /not NUL-terminated/);
  assertRefused(() => rules.check('192.0.2.6'), /exec length/);
  assert.equal(kindOf(rules, '192.0.2.7'), 'none');
  // Enough keys that many share a slot: each is still found by probing on.
  const many: Array<[string, Buffer]> = [];
  for (let i = 0; i < 2000; i++) many.push([`ip4/10.0.${i >> 8}.${i & 255}_32`, Buffer.from(i % 3 ? 'D' : 'Xnone')]);
  writeFileSync(path, makeCdb(many));
  for (let i = 0; i < 2000; i++) assert.equal(kindOf(rules, `10.0.${i >> 8}.${i & 255}`), i % 3 ? 'deny' : 'none', `10.0.${i >> 8}.${i & 255}`);
  // A table that points past the end is refused, not read out of bounds.
  const corrupt = makeCdb([['ip4/192.0.2.1_32', Buffer.from('D')]]);
  for (let i = 0; i < 256; i++) corrupt.writeUInt32LE(0x7fffffff, i * 8);
  writeFileSync(path, corrupt);
  assertRefused(() => rules.check('192.0.2.1'), /corrupt cdb/);
});

/** A djb cdb of these records: 256 table pointers, the records, then the hash tables. */
function makeCdb(records: Array<[string, Buffer]>): Buffer {
  const hash = (key: Buffer): number => {
    let h = 5381;
    for (const byte of key) h = ((((h << 5) >>> 0) + h) >>> 0) ^ byte;
    return h >>> 0;
  };
  const parts: Buffer[] = [Buffer.alloc(2048)];
  let pos = 2048;
  const entries: Array<{ h: number; pos: number }> = [];
  for (const [k, data] of records) {
    const key = Buffer.from(k);
    const head = Buffer.alloc(8);
    head.writeUInt32LE(key.length, 0);
    head.writeUInt32LE(data.length, 4);
    parts.push(head, key, data);
    entries.push({ h: hash(key), pos });
    pos += 8 + key.length + data.length;
  }
  for (let t = 0; t < 256; t++) {
    const mine = entries.filter((e) => (e.h & 255) === t);
    const slots = mine.length * 2;
    parts[0].writeUInt32LE(pos, t * 8);
    parts[0].writeUInt32LE(slots, t * 8 + 4);
    const table = Buffer.alloc(slots * 8);
    for (const e of mine) {
      let s = (e.h >>> 8) % slots;
      while (table.readUInt32LE(s * 8 + 4)) s = (s + 1) % slots;
      table.writeUInt32LE(e.h, s * 8);
      table.writeUInt32LE(e.pos, s * 8 + 4);
    }
    parts.push(table);
    pos += table.length;
  }
  return Buffer.concat(parts);
}
