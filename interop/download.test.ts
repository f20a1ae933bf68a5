// Servers that answer a request with a file and then end by themselves:
// openssl s_server -WWW (one TLS version per server) and a Python ssl server.
// These are where --no-shutdown applies: nothing is sent at our EOF and the
// server's end ends the session.

import { test, before, after } from 'node:test';
import { makeWorld, World, Version, runClient, judgeDownload, series, getBig, assertAllComplete, assertRuleKept, Mode } from './cases';
import { RealServer, startOpensslWww, startPythonServer } from './realservers';
import { join } from 'path';

let world: World;
const servers = new Map<string, RealServer>();

before(async () => {
  world = makeWorld();
  for (const version of ['1.2', '1.3'] as Version[]) {
    servers.set(`openssl s_server -WWW ${version}`, await startOpensslWww(world.leaf, world.www, version));
  }
  servers.set('python ssl answer', await startPythonServer(world.leaf, 'answer', join(world.www, 'big')));
});
after(async () => {
  for (const s of servers.values()) await s.stop();
  world?.remove();
});

interface DownloadCase {
  server: string;
  version: Version;
  mode: Mode;
  runs: number;
  mustComplete: boolean;
}

const cases: DownloadCase[] = [];
for (const version of ['1.2', '1.3'] as Version[]) {
  const www = `openssl s_server -WWW ${version}`;
  cases.push(
    { server: www, version, mode: '--no-shutdown', runs: 10, mustComplete: true },
    { server: www, version, mode: '-s', runs: 10, mustComplete: false },
    { server: www, version, mode: '-S', runs: 5, mustComplete: false },
    { server: www, version, mode: '-J', runs: 5, mustComplete: false },
    // Python's server finishes its answer whatever the client does meanwhile.
    { server: 'python ssl answer', version, mode: '--no-shutdown', runs: 5, mustComplete: true },
    { server: 'python ssl answer', version, mode: '-s', runs: 10, mustComplete: true },
    { server: 'python ssl answer', version, mode: '-S', runs: 5, mustComplete: true },
    { server: 'python ssl answer', version, mode: '-J', runs: 5, mustComplete: true },
  );
}

for (const c of cases) {
  const what = c.mustComplete ? 'the whole file every time' : 'exit 0 only with the whole file';
  test(`${c.server}, TLS ${c.version}, ${c.mode}, GET /big (4 MiB), ${c.runs} runs: ${what}`, async (t) => {
    const server = servers.get(c.server) as RealServer;
    const tally = await series(t, c.runs, async () =>
      judgeDownload(await runClient({ port: server.port, world, version: c.version, mode: c.mode, stdin: getBig('1.0') }), world),
    );
    if (c.mustComplete) assertAllComplete(tally, server.log);
    else assertRuleKept(tally, server.log);
  });
}
