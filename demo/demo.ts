// npm run demo: a throwaway CA, a local TLS server, and one real exchange
// through s6-tlsc-io with a TCP socket at fds 6 and 7, the way tcpclient
// runs it; then the connection report (-d) decoded.

import { spawn } from 'child_process';
import { connect } from 'net';
import { Readable } from 'stream';
import { createServer } from 'tls';
import { join } from 'path';
import { Pki } from '../test/helpers/pki';

const BIN = join(__dirname, '..', '..', 'bin', 's6-tlsc-io');

async function main(): Promise<void> {
  const pki = new Pki();
  const ca = pki.cert('demo-ca', { ca: true, cn: 'Demo CA' });
  const leaf = pki.cert('demo-server', { issuer: ca, cn: 'demo.localhost', dns: ['demo.localhost'] });
  console.log(`throwaway CA and server certificate in ${pki.dir}`);

  const server = createServer({ key: leaf.keyPem, cert: leaf.certPem }, (socket) => {
    let request = '';
    socket.on('data', (chunk) => {
      request += chunk;
      if (request.includes('\r\n\r\n')) {
        const body = `hello over ${socket.getProtocol()}, you asked for ${request.split(' ')[1]}\n`;
        socket.end(`HTTP/1.0 200 OK\r\ncontent-length: ${body.length}\r\n\r\n${body}`);
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  console.log(`TLS server listening on 127.0.0.1:${port}`);

  const socket = connect({ port, host: '127.0.0.1' });
  await new Promise<void>((resolve) => socket.once('connect', resolve));
  const args = ['-d', '3', '-k', 'demo.localhost', '6', '7'];
  console.log(`$ CAFILE=${ca.certPath} s6-tlsc-io ${args.join(' ')}   (socket at fds 6 and 7)`);
  const child = spawn(BIN, args, {
    stdio: ['pipe', 'pipe', 'inherit', 'pipe', 'ignore', 'ignore', socket, socket],
    env: { PATH: process.env.PATH, CAFILE: ca.certPath },
  });
  socket.destroy();

  const notification: Buffer[] = [];
  (child.stdio[3] as Readable).on('data', (c: Buffer) => notification.push(c));
  let reply = '';
  child.stdout!.on('data', (c) => (reply += c));
  child.stdin!.end('GET /demo HTTP/1.0\r\nHost: demo.localhost\r\n\r\n');
  const code: number = await new Promise((resolve) => child.on('exit', (c) => resolve(c ?? 128)));

  console.log('\n--- connection report (-d 3), NUL-separated KEY=value pairs ---');
  for (const entry of Buffer.concat(notification).toString().split('\0').filter(Boolean)) console.log(`  ${entry}`);
  console.log('\n--- what the server answered, through the tunnel ---');
  process.stdout.write(reply.replace(/\r/g, '').replace(/^(?=.)/gm, '  '));
  console.log(`\ns6-tlsc-io exited with code ${code}`);
  server.close();
  pki.remove();
  process.exitCode = code;
}

main().catch((err) => {
  console.error(`demo: ${err instanceof Error ? err.message : err}`);
  process.exitCode = 1;
});
