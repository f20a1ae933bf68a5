// The layout of src/ (doc/architecture.md): every folder is a floor, and an
// import may point to its own floor or below, never up, and never sideways
// between the client and the server programs. Read from the sources
// themselves, so a new import that breaks the layout fails here.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'fs';
import { dirname, join, normalize, relative } from 'path';

const SRC = join(__dirname, '..', '..', 'src');

/** Lowest first. client and server share a floor and may not see each other. */
const FLOORS: Record<string, number> = {
  base: 0,
  cli: 1,
  trust: 2,
  engine: 3,
  wiring: 4,
  client: 5,
  server: 5,
  bin: 6,
  '.': 6,
};

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sources(path);
    return name.endsWith('.ts') ? [path] : [];
  });
}

/** The top folder under src/ of a path inside it ('.' for src/index.ts). */
function folderOf(path: string): string {
  const parts = relative(SRC, path).split('/');
  return parts.length === 1 ? '.' : parts[0];
}

function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const found: string[] = [];
  for (const m of text.matchAll(/(?:from|import|require\()\s*['"](\.{1,2}\/[^'"]+)['"]/g)) found.push(m[1]);
  return found;
}

test('every folder of src/ is a known floor: a new one is placed in doc/architecture.md and here', () => {
  const folders = new Set(sources(SRC).map(folderOf));
  for (const folder of folders) assert.ok(folder in FLOORS, `src/${folder} has no floor`);
  // The layout is the one the docs draw: these floors all exist.
  for (const folder of ['base', 'cli', 'trust', 'engine', 'wiring', 'client', 'bin']) assert.ok(folders.has(folder), `src/${folder} is missing`);
});

test('imports point down or across their own floor: never up, never between client and server', () => {
  const wrong: string[] = [];
  let seen = 0;
  for (const file of sources(SRC)) {
    const from = folderOf(file);
    for (const spec of importsOf(file)) {
      const target = normalize(join(dirname(file), spec));
      assert.ok(target.startsWith(SRC), `${relative(SRC, file)} imports ${spec}, outside src/`);
      const to = folderOf(target + '.ts');
      seen++;
      const up = FLOORS[to] > FLOORS[from];
      const sideways = FLOORS[to] === FLOORS[from] && to !== from;
      if (up || sideways) wrong.push(`src/${relative(SRC, file)} (${from}) imports ${spec} (${to})`);
    }
  }
  assert.ok(seen > 50, `only ${seen} imports read: the reader is broken`);
  assert.deepEqual(wrong, []);
});

test('the reader finds an upward import when there is one', () => {
  // A self-check of the rule on a made-up pair of paths.
  const from = folderOf(join(SRC, 'trust', 'verify.ts'));
  const to = folderOf(normalize(join(SRC, 'trust', '../engine/tunnel')) + '.ts');
  assert.equal(from, 'trust');
  assert.equal(to, 'engine');
  assert.ok(FLOORS[to] > FLOORS[from]);
});
