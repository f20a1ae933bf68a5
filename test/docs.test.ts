// The manual pages and the README say what the programs do: each program's
// synopsis, as it prints it, stands verbatim in its page.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'fs';
import { dirname, join, resolve, sep } from 'path';
import { spawnSync } from 'child_process';
import { REPO } from './helpers/harness';

for (const prog of ['s6-tlsc-io', 's6-tlsc', 's6-tlsclient', 's6-ucspitlsc']) {
  test(`${prog}: the synopsis its usage line prints is the one its manual page and the README show`, () => {
    const r = spawnSync(join(REPO, 'bin', prog), [], { encoding: 'utf8', env: { PATH: process.env.PATH } });
    assert.equal(r.status, 100);
    // "prog: usage: what was wrong: synopsis"
    const m = new RegExp(`^${prog}: usage: [^:]+: (${prog} .+)\\n$`).exec(r.stderr);
    assert.ok(m, r.stderr);
    const usage = m[1];
    assert.ok(readFileSync(join(REPO, 'doc', `${prog}.md`), 'utf8').includes(`    ${usage}\n`), `doc/${prog}.md shows: ${usage}`);
    assert.ok(readFileSync(join(REPO, 'README.md'), 'utf8').includes(usage), `README shows: ${usage}`);
  });
}

test('every link of the README and of doc/ leads to a file of the repository', () => {
  const pages = ['README.md', ...readdirSync(join(REPO, 'doc')).filter((f) => f.endsWith('.md')).map((f) => `doc/${f}`)];
  let checked = 0;
  for (const page of pages) {
    const text = readFileSync(join(REPO, page), 'utf8');
    for (const m of text.matchAll(/\]\(([^)\s]+)\)/g)) {
      const target = m[1].split('#')[0];
      if (/^https?:\/\//.test(target) || target === '') continue;
      const resolved = resolve(REPO, dirname(page), target);
      assert.ok(resolved.startsWith(REPO + sep), `${page}: ${m[1]} leads out of the repository`);
      assert.ok(existsSync(resolved), `${page}: ${m[1]} does not exist`);
      checked++;
    }
    assert.doesNotMatch(text, /\.\.\/shared|\/work\//, `${page} points outside the repository`);
  }
  assert.ok(checked >= 5, `${checked} links checked`);
});

for (const prog of Object.keys(JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')).bin as Record<string, string>)) {
  test(`${prog}: its man page has NAME, SYNOPSIS-like interface, EXAMPLES and SEE ALSO, and man reads it`, () => {
    const page = join(REPO, 'dist', 'man', `${prog}.1`);
    const roff = readFileSync(page, 'utf8');
    for (const section of ['NAME', 'EXAMPLES', 'SEE ALSO']) assert.match(roff, new RegExp(`^\\.SH ${section}$`, 'm'), section);
    // Rendered as a user reads it: the examples are there, no Markdown left over.
    const r = spawnSync('man', ['-l', page], { encoding: 'utf8', env: { PATH: process.env.PATH, MANPAGER: 'cat', PAGER: 'cat', MANWIDTH: '100' } });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /EXAMPLES\n/);
    assert.match(r.stdout, new RegExp(`${prog} --help`));
    assert.doesNotMatch(r.stdout, /\]\(|`/, 'links and backquotes are rendered');
  });
}

/** The long options an Options section or a help page writes (`--name`, `--name=value`). */
function longOptions(text: string): Set<string> {
  return new Set([...text.matchAll(/(?<![\w-])--([a-z][a-z0-9-]*)/g)].map((m) => m[1]).filter((name) => name !== 'help'));
}

function optionsSection(prog: string): string {
  const page = readFileSync(join(REPO, 'doc', `${prog}.md`), 'utf8');
  const start = page.indexOf('\n## Options\n');
  assert.ok(start >= 0, `doc/${prog}.md has an Options section`);
  const end = page.indexOf('\n## ', start + 1);
  return page.slice(start, end < 0 ? undefined : end);
}

// Each page documents its own options and hands the rest on to the page of
// the program it extends ("every other option is s6-tlsc's / s6-tlsc-io's").
const extendsPage: Record<string, string[]> = {
  's6-tlsc-io': [],
  's6-tlsc': ['s6-tlsc-io'],
  's6-tlsclient': ['s6-tlsc', 's6-tlsc-io'],
  's6-ucspitlsc': ['s6-tlsc-io'],
};

for (const prog of Object.keys(extendsPage)) {
  test(`${prog}: every long option its manual page names is one --help lists, and every one --help lists is in the manual`, () => {
    const help = spawnSync(join(REPO, 'bin', prog), ['--help'], { encoding: 'utf8', env: { PATH: process.env.PATH } });
    assert.equal(help.status, 0, help.stderr);
    const listed = longOptions(help.stdout.slice(help.stdout.indexOf('\nOptions:\n'), help.stdout.indexOf('\nEnvironment:\n')));
    const own = longOptions(optionsSection(prog));
    assert.ok(own.size >= 1 || prog === 's6-tlsc', `${own.size} long options in doc/${prog}.md`);
    for (const name of own) assert.ok(listed.has(name), `doc/${prog}.md names --${name}, which ${prog} --help does not list`);
    const documented = new Set([...own, ...extendsPage[prog].flatMap((page) => [...longOptions(optionsSection(page))])]);
    for (const name of listed) assert.ok(documented.has(name), `${prog} --help lists --${name}, which its manual page does not name`);
  });
}

test('every relative link of the README, as npm shows it from the package, leads to a file the package holds', () => {
  const r = spawnSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: REPO, encoding: 'utf8', env: process.env });
  assert.equal(r.status, 0, r.stderr);
  const packed = new Set((JSON.parse(r.stdout) as { files: { path: string }[] }[])[0].files.map((f) => f.path));
  assert.ok(packed.has('README.md') && packed.has('LICENSE'), 'README.md and LICENSE are packed');
  const readme = readFileSync(join(REPO, 'README.md'), 'utf8');
  let checked = 0;
  for (const m of readme.matchAll(/\]\(([^)\s]+)\)/g)) {
    const target = m[1].split('#')[0];
    if (/^[a-z]+:/.test(target) || target === '') continue;
    assert.ok(packed.has(target.replace(/^\.\//, '')), `README links ${m[1]}, which npm pack leaves out`);
    checked++;
  }
  assert.ok(checked >= 5, `${checked} links checked`);
});

/** A man page as man shows it on an 80-column terminal. */
function rendered(prog: string): string {
  const r = spawnSync('man', ['-l', join(REPO, 'dist', 'man', `${prog}.1`)], {
    encoding: 'utf8',
    env: { PATH: process.env.PATH, MANPAGER: 'cat', PAGER: 'cat', MANWIDTH: '80', LANG: 'C.UTF-8' },
  });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout;
}

for (const prog of Object.keys(extendsPage)) {
  test(`${prog}: its man page fits 80 columns, synopsis and examples included, and its list items are reflowed`, () => {
    const lines = rendered(prog).split('\n');
    for (const line of lines) assert.ok([...line].length <= 80, `${[...line].length} columns: ${line}`);
    // The synopsis is all there, broken between option groups.
    const page = lines.join('\n');
    assert.match(page, new RegExp(`\\n {11}${prog} \\[ `));
    // A roff text line that starts with a space breaks the paragraph there: outside
    // the code blocks (.nf ... .fi) there is none, so each item is one paragraph.
    let fill = true;
    for (const line of readFileSync(join(REPO, 'dist', 'man', `${prog}.1`), 'utf8').split('\n')) {
      if (line === '.nf') fill = false;
      if (line === '.fi') fill = true;
      if (fill) assert.doesNotMatch(line, /^\s/, `a line break kept in the text: ${JSON.stringify(line)}`);
    }
  });
}

test('s6-ucspitlsc: the items under an item of its man page are indented under it', () => {
  const page = rendered('s6-ucspitlsc');
  const indentOf = (text: string): number => {
    const line = page.split('\n').find((l) => l.includes(text));
    assert.ok(line, text);
    return line.indexOf('•');
  };
  const outer = indentOf('It starts prog');
  assert.ok(outer > 0);
  for (const inner of ['SSLCTLFD:', 'SSLWRITEFD:', 'SSLREADFD:', 'y: ', 'Y: ']) assert.ok(indentOf(inner) > outer, `${inner} is indented under its item`);
});
