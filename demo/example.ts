// npm run example: the library example (examples/library-example.ts) run as
// a program of its own against the demo's throwaway server, then against a
// port where nothing listens, to show a failure coming back as an outcome.

import { spawn } from 'child_process';
import { join } from 'path';
import { DEMO_NAME, startDemoServer } from './server';
// A port nothing listens on: one the system just gave and took back.
import { freePort as closedPort } from '../test/helpers/servers';

const EXAMPLE = join(__dirname, '..', 'examples', 'library-example.js');

function run(args: string[]): Promise<number> {
  console.log(`\n$ node dist/examples/library-example.js ${args.join(' ')}`);
  const child = spawn(process.execPath, [EXAMPLE, ...args], { stdio: 'inherit' });
  return new Promise((resolve) => child.on('exit', (code) => resolve(code ?? 128)));
}

async function main(): Promise<void> {
  const server = await startDemoServer();
  const ok = await run(['127.0.0.1', String(server.port), server.cafile, DEMO_NAME]);
  console.log(`exit code ${ok}`);
  const refused = await run(['127.0.0.1', String(await closedPort()), server.cafile, DEMO_NAME]);
  console.log(`exit code ${refused} (the outcome's; the process did not crash)`);
  server.close();
  process.exitCode = ok === 0 && refused === 111 ? 0 : 1;
}

main().catch((err) => {
  console.error(`example: ${err instanceof Error ? err.message : err}`);
  process.exitCode = 1;
});
