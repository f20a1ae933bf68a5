// The manual pages and the README say what the programs do: each program's
// synopsis, as it prints it, stands verbatim in its page.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'fs';
import { join } from 'path';
import { spawnSync } from 'child_process';
import { REPO } from './helpers/harness';

for (const prog of ['s6-tlsc-io', 's6-tlsc', 's6-tlsclient']) {
  test(`${prog}: the synopsis its usage line prints is the one its manual page and the README show`, () => {
    const r = spawnSync(join(REPO, 'bin', prog), [], { encoding: 'utf8', env: { PATH: process.env.PATH } });
    assert.equal(r.status, 100);
    // "prog: usage: what was wrong: synopsis"
    const m = new RegExp(`^${prog}: usage: [^:]+: (${prog} .+)\\n$`).exec(r.stderr);
    assert.ok(m, r.stderr);
    const usage = m[1];
    assert.ok(readFileSync(join(REPO, 'doc', `${prog}.md`), 'utf8').includes(`    ${usage}\n`), `doc/${prog}.md shows: ${usage}`);
    if (prog !== 's6-tlsclient') assert.ok(readFileSync(join(REPO, 'README.md'), 'utf8').includes(usage), `README shows: ${usage}`);
  });
}
