// The launchers in bin/: one text for every program, started by any POSIX
// sh (BusyBox's too, with only BusyBox's applets and node on PATH), through
// the symlinks npm puts in front of them; Node starts with its flags and
// without NODE_EXTRA_CA_CERTS, and prog gets the caller's environment back.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, realpathSync, symlinkSync } from 'fs';
import { join, relative } from 'path';
import { Pki, Cert } from './helpers/pki';
import { REPO } from './helpers/harness';
import { startTlsServer, echo, RunningServer } from './helpers/servers';

const BUSYBOX = '/usr/bin/busybox';
const pkg = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { bin: Record<string, string>; man: string[] };

let pki: Pki;
let root: Cert;
let server: RunningServer;
/** a PATH of BusyBox applets and node, nothing else */
let busyboxPath: string;

before(async () => {
  pki = new Pki();
  root = pki.cert('root', { ca: true });
  const leaf = pki.cert('leaf', { issuer: root, cn: 'server.test', dns: ['server.test'] });
  server = await startTlsServer({ leaf }, echo);
  busyboxPath = pki.path('busybox-bin');
  mkdirSync(busyboxPath);
  for (const applet of ['sh', 'env', 'tr', 'cat', 'echo']) symlinkSync(BUSYBOX, join(busyboxPath, applet));
  symlinkSync(process.execPath, join(busyboxPath, 'node'));
});
after(async () => {
  await server.close();
  pki.remove();
});

function run(argv: string[], env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(argv[0], argv.slice(1), { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c) => (stdout += c));
  child.stderr.on('data', (c) => (stderr += c));
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
}

/** The server programs: their launcher keeps variables such as KEYFILE:name, which a POSIX sh drops. */
const SERVER_PROGRAMS = /^s6-(tlsd|ucspitlsd|tlsserver)/;

test('every program of package.json is started by its role\'s launcher (clients: /bin/sh without env -S; servers: node itself), with its bundle and its man page', () => {
  const launcher = readFileSync(join(REPO, 'bin', 's6-tlsc-io'), 'utf8');
  const serverLauncher = readFileSync(join(REPO, 'bin', 's6-tlsd-io'), 'utf8');
  assert.ok(launcher.startsWith('#!/bin/sh\n'));
  assert.ok(serverLauncher.startsWith('#!/usr/bin/env node\n'));
  // The shell part: no env at all (BusyBox's has no -S), only sh's own builtins and node.
  assert.doesNotMatch(launcher.split('\n').slice(0, 2).join('\n'), /\benv\b/);
  const names = Object.keys(pkg.bin);
  assert.ok(names.length >= 3);
  for (const name of names) {
    assert.equal(pkg.bin[name], `bin/${name}`);
    const expected = SERVER_PROGRAMS.test(name) ? serverLauncher : launcher;
    assert.equal(readFileSync(join(REPO, 'bin', name), 'utf8'), expected, `bin/${name} is its role's launcher`);
    assert.ok(existsSync(join(REPO, 'dist', 'src', 'bin', `${name}.bundle.js`)), `${name} is bundled`);
    assert.ok(pkg.man.includes(`./dist/man/${name}.1`), `${name} has a man page in package.json`);
    assert.ok(existsSync(join(REPO, 'dist', 'man', `${name}.1`)), `dist/man/${name}.1 is built`);
  }
});

/** prog for s6-tlsclient: its parent's (Node's) command line and initial environment, then its own environment. */
const PROG = ['sh', '-c', 'tr "\\0" " " < /proc/$PPID/cmdline; echo; echo ---; tr "\\0" "\\n" < /proc/$PPID/environ; echo ---; env'];

function sections(stdout: string): { nodeArgs: string; nodeEnv: string[]; progEnv: string[] } {
  const [nodeArgs, nodeEnv, progEnv] = stdout.split('---\n');
  return { nodeArgs, nodeEnv: nodeEnv.split('\n'), progEnv: progEnv.split('\n') };
}

for (const how of ['BusyBox sh, BusyBox applets only on PATH', 'the #! line']) {
  test(`started by ${how}: Node runs with --use-openssl-ca, MALLOC_ARENA_MAX=1, the malloc trim settings, no NODE_EXTRA_CA_CERTS; prog sees the caller's`, async () => {
    const launcher = join(REPO, 'bin', 's6-tlsclient');
    const argv = how.startsWith('BusyBox') ? [join(busyboxPath, 'sh'), launcher] : [launcher];
    const path = how.startsWith('BusyBox') ? busyboxPath : process.env.PATH ?? '/usr/bin:/bin';
    const args = ['-k', 'server.test', '127.0.0.1', String(server.port), ...PROG];

    // An extra-CA file that does not exist: Node would warn on stderr if it read it.
    const withExtra = await run([...argv, ...args], { PATH: path, CAFILE: root.certPath, NODE_EXTRA_CA_CERTS: '/nonexistent/extra.pem' });
    assert.equal(withExtra.code, 0, withExtra.stderr);
    assert.equal(withExtra.stderr, '');
    const first = sections(withExtra.stdout);
    assert.match(first.nodeArgs, /(^|\/)node --use-openssl-ca \S*bin\/s6-tlsclient -k server\.test /);
    assert.ok(first.nodeEnv.includes('MALLOC_ARENA_MAX=1'));
    assert.ok(first.nodeEnv.includes('MALLOC_TRIM_THRESHOLD_=33554432'));
    assert.ok(first.nodeEnv.includes('MALLOC_TOP_PAD_=8388608'));
    for (const name of ['MALLOC_TRIM_THRESHOLD_', 'MALLOC_TOP_PAD_']) {
      assert.ok(!first.progEnv.some((l) => l.startsWith(`${name}=`)), `prog does not get our ${name}`);
    }
    assert.ok(!first.nodeEnv.some((l) => l.startsWith('NODE_EXTRA_CA_CERTS=')));
    assert.ok(first.progEnv.includes('NODE_EXTRA_CA_CERTS=/nonexistent/extra.pem'), 'prog has the caller\'s NODE_EXTRA_CA_CERTS');
    assert.ok(!first.progEnv.some((l) => l.startsWith('MALLOC_ARENA_MAX=')), 'prog does not get our MALLOC_ARENA_MAX');
    assert.ok(!first.progEnv.some((l) => l.startsWith('S6_TLSC_IO_CALLER_')), 'no variable of the launcher reaches prog');
    assert.ok(first.progEnv.includes('SSL_TLS_SNI_SERVERNAME=server.test'));

    const withArena = await run([...argv, ...args], { PATH: path, CAFILE: root.certPath, MALLOC_ARENA_MAX: '4', MALLOC_TOP_PAD_: '', NODE_EXTRA_CA_CERTS: '' });
    assert.equal(withArena.code, 0, withArena.stderr);
    const second = sections(withArena.stdout);
    assert.ok(second.nodeEnv.includes('MALLOC_ARENA_MAX=1'));
    assert.ok(second.progEnv.includes('MALLOC_ARENA_MAX=4'), 'prog has the caller\'s MALLOC_ARENA_MAX');
    assert.ok(second.nodeEnv.includes('MALLOC_TOP_PAD_=8388608'));
    assert.ok(second.progEnv.includes('MALLOC_TOP_PAD_='), 'the caller\'s empty MALLOC_TOP_PAD_ stays set but empty');
    assert.ok(second.progEnv.includes('NODE_EXTRA_CA_CERTS='), 'set but empty stays set but empty');
  });
}

test('through the symlinks npm install -g, npm link and npx put on PATH; and as node bin/PROG', async () => {
  const dir = pki.path('global-bin');
  mkdirSync(dir);
  for (const name of Object.keys(pkg.bin)) {
    // npm makes them relative: ../lib/node_modules/PKG/bin/NAME
    symlinkSync(relative(dir, join(REPO, 'bin', name)), join(dir, name));
    const r = await run([join(dir, name), '--help'], { PATH: `${dir}:${process.env.PATH}` });
    assert.equal(r.code, 0, `${name}: ${r.stderr}`);
    assert.ok(r.stdout.startsWith(`usage: ${name} `), r.stdout.slice(0, 100));
    const direct = await run([process.execPath, join(REPO, 'bin', name), '--help'], { PATH: process.env.PATH ?? '' });
    assert.equal(direct.code, 0, `node bin/${name}: ${direct.stderr}`);
    assert.equal(direct.stdout, r.stdout);
  }
});

test('a copy of a launcher away from its package: one fatal line naming what is missing, 111, no stack trace', async () => {
  const dir = pki.path('copied-bin');
  mkdirSync(dir);
  for (const name of Object.keys(pkg.bin)) {
    const copy = join(dir, name);
    copyFileSync(join(REPO, 'bin', name), copy);
    chmodSync(copy, 0o755);
    const r = await run([copy, '--help'], { PATH: process.env.PATH ?? '' });
    assert.equal(r.code, 111, `${name}: ${r.stderr}`);
    assert.equal(r.stdout, '');
    assert.equal(
      r.stderr,
      `${name}: fatal: unable to find the program's files (dist/src/bin) next to ${realpathSync(copy)}: run it from its package, or through a symlink to it (npm link makes one)\n`,
    );
  }
});
