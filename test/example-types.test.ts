// The library example, and the README's copy of it, compile as a new user's
// project compiles them: an ES module project with what `tsc --init` turns
// on (strict, verbatimModuleSyntax, isolatedModules, nodenext) and this
// package's own type declarations, found through its package.json.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { REPO } from './helpers/harness';

let project: string;
before(() => {
  project = mkdtempSync(join(tmpdir(), 's6-tlsc-io-types-'));
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'user-project', private: true, type: 'module' }));
  mkdirSync(join(project, 'node_modules'));
  symlinkSync(REPO, join(project, 'node_modules', 's6-tlsc-io'));
  symlinkSync(join(REPO, 'node_modules', '@types'), join(project, 'node_modules', '@types'));
});
after(() => rmSync(project, { recursive: true, force: true }));

function compile(file: string, source: string): { status: number | null; output: string } {
  writeFileSync(join(project, file), source);
  const tsc = join(REPO, 'node_modules', 'typescript', 'bin', 'tsc');
  const flags = ['--noEmit', '--strict', '--verbatimModuleSyntax', '--isolatedModules', '--module', 'nodenext', '--moduleResolution', 'nodenext', '--target', 'es2022', '--types', 'node'];
  const r = spawnSync(process.execPath, [tsc, ...flags, file], { cwd: project, encoding: 'utf8' });
  return { status: r.status, output: r.stdout + r.stderr };
}

const example = readFileSync(join(REPO, 'examples', 'library-example.ts'), 'utf8');

test('examples/library-example.ts compiles under verbatimModuleSyntax with the package types', () => {
  const r = compile('example.ts', example);
  assert.equal(r.status, 0, r.output);
});

test("the README's TypeScript block compiles the same way, and shows the { socket } form", () => {
  const readme = readFileSync(join(REPO, 'README.md'), 'utf8');
  const block = /```ts\n([\s\S]*?)```/.exec(readme)?.[1];
  assert.ok(block, 'README has a ts block');
  assert.match(block, /network: \{ socket \}|request\(\{ socket \}/);
  const r = compile('readme.ts', block);
  assert.equal(r.status, 0, r.output);
});

test('the check can fail: a type imported as a value is refused', () => {
  const r = compile('wrong.ts', example.replace(/import \{ runTlsClient \} from 's6-tlsc-io';\nimport type \{ (.*) \} from 's6-tlsc-io';/, "import { runTlsClient, $1 } from 's6-tlsc-io';"));
  assert.notEqual(r.status, 0);
  assert.match(r.output, /TS1484/);
});
