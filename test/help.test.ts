// --help (SPEC section 8) for every program the package installs: the page
// on stdout, exit 0, made from the option table, so every option it lists is
// one the program takes; a wrong option names itself before the synopsis.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'child_process';
import { readFileSync } from 'fs';
import { join } from 'path';
import { HANG_GUARD_MS, REPO } from './helpers/harness';
import { helpText, ProgramDoc } from '../src/cli/help';
import { contextSettings } from '../src/trust/tls-settings';

const bins = Object.keys(JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')).bin as Record<string, string>);

function run(prog: string, args: string[]) {
  return spawnSync(join(REPO, 'bin', prog), args, { encoding: 'utf8', env: { PATH: process.env.PATH }, timeout: HANG_GUARD_MS });
}

/** The options a help page lists: [how to write it with a value if it takes one]. */
function listedOptions(page: string): string[][] {
  const options = page.slice(page.indexOf('\nOptions:\n'), page.indexOf('\nEnvironment:\n'));
  const found: string[][] = [];
  for (const m of options.matchAll(/^ {2}(-\S.*?)(?= {2}|$)/gm)) {
    for (const form of m[1].split(', ')) {
      const [name, value] = form.trim().split(/[ =]/);
      if (name === '--help') continue;
      found.push(value === undefined ? [name] : name.startsWith('--') ? [`${name}=1`] : [name, '1']);
    }
  }
  return found;
}

for (const prog of bins) {
  test(`${prog} --help: synopsis, options, environment and exit codes on stdout, exit 0`, () => {
    const r = run(prog, ['--help']);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stderr, '');
    const usage = run(prog, []);
    assert.equal(usage.status, 100);
    const synopsis = /^[^:]+: usage: .*?: (\S+ .*)\n$/.exec(usage.stderr)?.[1];
    assert.ok(synopsis?.startsWith(`${prog} `), usage.stderr);
    assert.ok(r.stdout.startsWith(`usage: ${synopsis}\n`), r.stdout.slice(0, 200));
    for (const heading of ['Options:', 'Environment:', 'Exit codes:']) assert.ok(r.stdout.includes(`\n${heading}\n`), heading);
    for (const variable of ['CADIR', 'CAFILE', 'CERTFILE', 'KEYFILE', 'TLS_UID', 'SSLKEYLOGFILE']) assert.match(r.stdout, new RegExp(`\\n  ${variable}\\b`));
    // s6-ucspitlsc and s6-ucspitlsd never exit 98 themselves: once prog runs, prog's code is their code.
    const codes = prog === 's6-ucspitlsc' || prog === 's6-ucspitlsd' ? ['96', '100', '111'] : ['96', '98', '100', '111'];
    for (const code of codes) assert.match(r.stdout, new RegExp(`\\n  ${code}\\b`));
    // Every option of the synopsis is explained.
    for (const m of synopsis!.matchAll(/-([A-Za-z0-9])\b/g)) assert.match(r.stdout, new RegExp(`\\n  -${m[1]}\\b`), `-${m[1]} is in the synopsis`);
    assert.ok(r.stdout.split('\n').every((line) => line.length <= 100 || line.startsWith('usage: ')), 'lines fit a terminal');
  });

  test(`${prog} --help: every option it lists is one the program takes`, () => {
    const page = run(prog, ['--help']).stdout;
    const options = listedOptions(page);
    assert.ok(options.length >= 10, `${options.length} options found`);
    for (const option of options) {
      // The option parses, then --help ends the parsing: exit 0. An unknown one is 100.
      const r = run(prog, [...option, '--help']);
      assert.equal(r.status, 0, `${option.join(' ')}: ${r.stderr}`);
    }
  });

  test(`${prog}: a misspelt option is named before the synopsis`, () => {
    const r = run(prog, ['--servernam=example.org', 'x', 'y', 'z']);
    assert.equal(r.status, 100);
    assert.match(r.stderr, new RegExp(`^${prog}: usage: unknown option --servernam: ${prog} \\[ .*\\n$`));
    // -e is an option of none of the programs (-q is s6-tlsclient's quiet flag, -w s6-tlsserver's).
    const short = run(prog, ['-Se', 'x', 'y', 'z']);
    assert.equal(short.status, 100);
    assert.match(short.stderr, new RegExp(`^${prog}: usage: unknown option -e: ${prog} \\[ `));
  });
}

test('the help page comes from the option table: an option added there appears with its text', () => {
  const doc: ProgramDoc = {
    name: 'demo-prog',
    synopsis: 'demo-prog [ -a ] [ -b value ] x',
    summary: 'A program for this test.',
    table: {
      flags: [{ short: 'a', long: 'all-the-things', key: 'all', value: true, help: 'does everything' }],
      args: [
        { short: 'b', long: 'bee', key: 'bee', valueName: 'count', help: 'how many bees' },
        { long: 'groups', key: 'groups', aliases: ['grp'], help: 'a long-only option with an old spelling, whose explanation is long enough to be wrapped onto a second line' },
      ],
    },
    operands: [['x', 'the operand']],
    environment: [['DEMO', 'a variable']],
    exitCodes: [['0', 'fine']],
  };
  const page = helpText(doc);
  assert.ok(page.startsWith('usage: demo-prog [ -a ] [ -b value ] x\n\nA program for this test.\n'));
  assert.match(page, /\n {2}-a, --all-the-things +does everything\n/);
  assert.match(page, /\n {2}-b count, --bee=count +how many bees\n/);
  assert.match(page, /\n {6}--groups=groups +a long-only option with an old spelling, whose\n {32}explanation is long enough to be wrapped onto a\n {32}second line; also written --grp=groups\n/);
  assert.match(page, /\n {6}--help +print this help on stdout and exit 0\n/);
  assert.match(page, /\nOperands:\n {2}x +the operand\n/);
  assert.match(page, /\nEnvironment:\n {2}DEMO +a variable\n/);
  assert.match(page, /\nExit codes:\n {2}0 +fine\n/);
});

for (const prog of bins) {
  test(`${prog} --help: each value the synopsis names is named the same way in the option list`, () => {
    const page = run(prog, ['--help']).stdout;
    const synopsis = page.split('\n')[0].slice('usage: '.length);
    const options = page.slice(page.indexOf('\nOptions:\n'), page.indexOf('\nEnvironment:\n'));
    // "-K kimeout" and "--verbosity=N" in the synopsis; the help row must write them alike.
    const written = [...synopsis.matchAll(/\[ (-[A-Za-z0-9] [a-z]\w*|--[a-z-]+=\S+) \]/g)].map((m) => m[1]);
    assert.ok(written.length >= 2, `${written.length} options with a value in the synopsis`);
    for (const form of written) {
      assert.match(options, new RegExp(`\\n +(.*, )?${form.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(,| {2}|\\n)`), `${form} in the option list`);
    }
    // And every value name the option list gives an option of the synopsis is the synopsis's.
    for (const m of options.matchAll(/\n {2}-([A-Za-z0-9]) (\S+?)[, \n]/g)) {
      const inSynopsis = new RegExp(`\\[ -${m[1]} (\\S+) \\]`).exec(synopsis);
      if (inSynopsis) assert.equal(m[2], inSynopsis[1], `-${m[1]}`);
    }
  });
}

test('--help says the default --min-protocol the programs apply', () => {
  const page = run('s6-tlsc-io', ['--help']).stdout.replace(/\n +/g, ' ');
  const applied = contextSettings({}).minVersion;
  assert.equal(applied, 'TLSv1.2');
  assert.match(page, new RegExp(`--min-protocol=version .*?; default ${applied.replace('.', '\\.')}[ (;\\n]`));
  assert.doesNotMatch(page, /default TLSv1(?!\.\d)/);
});
