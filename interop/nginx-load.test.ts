// nginx downloads with a CPU hog per core beside: the quiet wait and the
// end bound of src/engine/tunnel.ts on a loaded machine (doc/interop.md has the
// figures). A file of its own: under load it takes minutes.

import { test, before, after } from 'node:test';
import { writeFileSync } from 'fs';
import { join } from 'path';
import { randomBytes } from 'crypto';
import { spawn } from 'child_process';
import { cpus } from 'os';
import { sha256 } from '../test/helpers/harness';
import { SERVER_NAME } from '../test/helpers/pki';
import { makeWorld, World, VERSIONS, runClient, judge, httpBodyStart, series, assertRuleKept } from './cases';
import { startNginx, RealServer } from './realservers';

let world: World;
let nginx: RealServer;
let hugeSha: string;

before(async () => {
  world = makeWorld();
  const huge = randomBytes(32 * 1024 * 1024);
  writeFileSync(join(world.www, 'huge'), huge);
  hugeSha = sha256(huge);
  nginx = await startNginx(world.serverDir('nginx'), world.leaf, world.www);
});
after(async () => {
  await nginx?.stop();
  world?.remove();
});

// The same downloads with a CPU hog beside (one busy process per core): on a
// loaded machine the server pauses longer mid-answer and starts later, and
// our end must still wait for the answer (the quiet wait adapts: see
// src/engine/tunnel.ts), while the end bound still sends it at the latest.
for (const version of VERSIONS) {
  for (const [path, sha, runs] of [
    ['big', () => world.bigSha, 10],
    ['huge', () => hugeSha, 5],
  ] as const) {
    test(`nginx under load (a CPU hog per core beside), TLS ${version}, -s, GET /${path} HTTP/1.0 via tcpclient, ${runs} runs: exit 0 only with the whole file or a warning that it may be cut`, async (t) => {
      const hogs = cpus().map(() => spawn(process.execPath, ['-e', 'for (;;);'], { stdio: 'ignore' }));
      try {
        const tally = await series(t, runs, async () => {
          const r = await runClient({ port: nginx.port, world, version, mode: '-s', launcher: 'tcpclient', stdin: `GET /${path} HTTP/1.0\r\nHost: ${SERVER_NAME}\r\n\r\n`, timeoutMs: 120_000 });
          return judge(r, { sha: sha(), prefix: httpBodyStart(r.stdout) ?? r.stdout.length });
        });
        assertRuleKept(tally, nginx.log);
      } finally {
        for (const hog of hogs) hog.kill('SIGKILL');
      }
    });
  }
}
