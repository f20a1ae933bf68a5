// nginx (Debian's nginx-light) serving a 4 MiB static file: the most common
// server, and one that takes a client's half-close as the client giving up.
// On Linux nginx watches for the peer's FIN (EPOLLRDHUP) while it sends an
// answer, and at its first wait for socket space after that FIN it logs
// "client prematurely closed connection" and closes; and it closes without
// reading what the client sent after the request (our TLS 1.3 close_notify),
// which makes the kernel reset the connection and drop what nginx still had
// queued. doc/interop.md has the measurements.

import { test, before, after } from 'node:test';
import { readFileSync, existsSync, writeFileSync } from 'fs';
import { join } from 'path';
import { randomBytes } from 'crypto';
import { sha256 } from '../test/helpers/harness';
import { SERVER_NAME } from '../test/helpers/pki';
import { makeWorld, World, VERSIONS, runClient, judge, judgeDownload, httpBodyStart, series, getBig, assertAllComplete, assertRuleKept, Mode, Launcher } from './cases';
import { startNginx, RealServer } from './realservers';

let world: World;
let nginx: RealServer;
let errorLog: string;
/** 32 MiB: more than the socket buffers of a loopback connection hold, so no race with them can save an answer */
let hugeSha: string;

before(async () => {
  world = makeWorld();
  const huge = randomBytes(32 * 1024 * 1024);
  writeFileSync(join(world.www, 'huge'), huge);
  hugeSha = sha256(huge);
  const dir = world.serverDir('nginx');
  errorLog = join(dir, 'error.log');
  nginx = await startNginx(dir, world.leaf, world.www);
});
after(async () => {
  await nginx?.stop();
  world?.remove();
});

/** How many times nginx has logged that a client gave up, so far. */
function prematureCloses(): number {
  if (!existsSync(errorLog)) return 0;
  return (readFileSync(errorLog, 'latin1').match(/client prematurely closed connection/g) ?? []).length;
}

interface NginxCase {
  mode: Mode;
  http: '1.0' | '1.1';
  runs: number;
  launcher: Launcher;
  /** every run must deliver the whole file with exit 0; otherwise only the rule holds */
  mustComplete: boolean;
}

const cases: NginxCase[] = [
  // --no-shutdown: nothing sent at our EOF, so nginx has nothing to react to.
  { mode: '--no-shutdown', http: '1.0', runs: 20, launcher: 'fds', mustComplete: true },
  { mode: '--no-shutdown', http: '1.1', runs: 5, launcher: 'fds', mustComplete: true },
  { mode: '--no-shutdown', http: '1.0', runs: 5, launcher: 's6-tlsclient', mustComplete: true },
  // The default, exactly as issue 9 ran it: printf request | tcpclient ... s6-tlsc-io.
  { mode: '-s', http: '1.0', runs: 15, launcher: 'tcpclient', mustComplete: false },
  { mode: '-s', http: '1.1', runs: 5, launcher: 'fds', mustComplete: false },
  { mode: '-s', http: '1.0', runs: 5, launcher: 's6-tlsclient', mustComplete: false },
  { mode: '-S', http: '1.0', runs: 10, launcher: 'fds', mustComplete: false },
  // -J: a cut answer arrives without close_notify, so it must never end with exit 0.
  { mode: '-J', http: '1.0', runs: 10, launcher: 'fds', mustComplete: false },
];

for (const version of VERSIONS) {
  for (const c of cases) {
    const what = c.mustComplete ? 'the whole file every time' : 'exit 0 only with the whole file or a warning that it may be cut';
    test(`nginx, TLS ${version}, ${c.mode}, GET /big HTTP/${c.http} via ${c.launcher}, ${c.runs} runs: ${what}`, async (t) => {
      const before = prematureCloses();
      const tally = await series(t, c.runs, async () =>
        judgeDownload(await runClient({ port: nginx.port, world, version, mode: c.mode, stdin: getBig(c.http), launcher: c.launcher }), world),
      );
      t.diagnostic(`nginx logged "client prematurely closed connection" ${prematureCloses() - before} times`);
      if (c.mustComplete) assertAllComplete(tally, nginx.log);
      else assertRuleKept(tally, nginx.log);
    });
  }
}

for (const version of VERSIONS) {
  test(`nginx, TLS ${version}, --no-shutdown, GET /huge (32 MiB) HTTP/1.0, 5 runs: the whole file every time`, async (t) => {
    const tally = await series(t, 5, async () => {
      const r = await runClient({ port: nginx.port, world, version, mode: '--no-shutdown', stdin: `GET /huge HTTP/1.0\r\nHost: ${SERVER_NAME}\r\n\r\n` });
      return judge(r, { sha: hugeSha, prefix: httpBodyStart(r.stdout) ?? r.stdout.length });
    });
    assertAllComplete(tally, nginx.log);
  });
}

// The default against 32 MiB: nginx is sure to wait for socket space, so the
// timing of our end decides (see the quiet wait in src/engine/tunnel.ts).
for (const version of VERSIONS) {
  test(`nginx, TLS ${version}, -s, GET /huge (32 MiB) HTTP/1.0, 5 runs: exit 0 only with the whole file or a warning that it may be cut`, async (t) => {
    const tally = await series(t, 5, async () => {
      const r = await runClient({ port: nginx.port, world, version, mode: '-s', stdin: `GET /huge HTTP/1.0\r\nHost: ${SERVER_NAME}\r\n\r\n` });
      return judge(r, { sha: hugeSha, prefix: httpBodyStart(r.stdout) ?? r.stdout.length });
    });
    assertRuleKept(tally, nginx.log);
  });
}

