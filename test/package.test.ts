// package.json and package-lock.json agree, so that `npm install` in a fresh
// clone leaves the lock file as it is and says nothing about install scripts.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'fs';
import { join } from 'path';
import { REPO } from './helpers/harness';

const pkg = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8'));
const lock = JSON.parse(readFileSync(join(REPO, 'package-lock.json'), 'utf8'));

test("package-lock.json's root package has package.json's bin list, dependencies and version", () => {
  const root = lock.packages[''];
  assert.deepEqual(root.bin, pkg.bin);
  assert.deepEqual(root.devDependencies, pkg.devDependencies);
  assert.equal(root.version, pkg.version);
  assert.equal(root.license, pkg.license);
});

test('every locked package with an install script is reviewed in allowScripts', () => {
  const withScripts = Object.entries(lock.packages as Record<string, { hasInstallScript?: boolean }>)
    .filter(([, entry]) => entry.hasInstallScript)
    .map(([path]) => path.slice(path.lastIndexOf('node_modules/') + 'node_modules/'.length));
  assert.ok(withScripts.includes('esbuild'), withScripts.join(', '));
  for (const name of withScripts) assert.ok(name in (pkg.allowScripts ?? {}), `${name}'s install script is not in allowScripts`);
});
