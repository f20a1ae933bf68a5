// npm run demo: a throwaway CA, a local TLS server, and one real exchange
// through s6-tlsc-io with a TCP socket at fds 6 and 7, the way tcpclient
// runs it; then the connection report (-d) decoded.

import { spawn } from 'child_process';
import { connect } from 'net';
import { Readable } from 'stream';
import { join } from 'path';
import { DEMO_NAME, startDemoServer } from './server';

const BIN = join(__dirname, '..', '..', 'bin', 's6-tlsc-io');

async function main(): Promise<void> {
  const server = await startDemoServer();
  const socket = connect({ port: server.port, host: '127.0.0.1' });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  const args = ['-d', '3', '-k', DEMO_NAME, '6', '7'];
  console.log(`$ CAFILE=${server.cafile} s6-tlsc-io ${args.join(' ')}   (socket at fds 6 and 7)`);
  const child = spawn(BIN, args, {
    stdio: ['pipe', 'pipe', 'inherit', 'pipe', 'ignore', 'ignore', socket, socket],
    env: { PATH: process.env.PATH, CAFILE: server.cafile },
  });
  socket.destroy();

  const notification: Buffer[] = [];
  (child.stdio[3] as Readable).on('data', (c: Buffer) => notification.push(c));
  let reply = '';
  child.stdout!.on('data', (c) => (reply += c));
  child.stdin!.end(`GET /demo HTTP/1.0\r\nHost: ${DEMO_NAME}\r\n\r\n`);
  const code: number = await new Promise((resolve) => child.on('exit', (c) => resolve(c ?? 128)));

  console.log('\n--- connection report (-d 3), NUL-separated KEY=value pairs ---');
  for (const entry of Buffer.concat(notification).toString().split('\0').filter(Boolean)) console.log(`  ${entry}`);
  console.log('\n--- what the server answered, through the tunnel ---');
  process.stdout.write(reply.replace(/\r/g, '').replace(/^(?=.)/gm, '  '));
  console.log(`\ns6-tlsc-io exited with code ${code}`);
  server.close();
  process.exitCode = code;
}

main().catch((err) => {
  console.error(`demo: ${err instanceof Error ? err.message : err}`);
  process.exitCode = 1;
});
