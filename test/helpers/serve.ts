// Runs a server program of the package the way tcpserver does: a TCP
// listener on 127.0.0.1, and for one accepted connection the program with
// that socket as its stdin and stdout. The test then connects as a client.

import { spawn, StdioOptions } from 'child_process';
import { createServer, Socket } from 'net';
import { once } from 'events';
import { connect as tlsConnect, ConnectionOptions, TLSSocket } from 'tls';
import { join } from 'path';
import { cleanEnv, REPO, RunResult, waitFor } from './harness';

export const TLSD = join(REPO, 'bin', 's6-tlsd');
export const TLSD_IO = join(REPO, 'bin', 's6-tlsd-io');
export const UCSPITLSD = join(REPO, 'bin', 's6-ucspitlsd');

export interface Served {
  port: number;
  /** the program's run, once a client has connected and it has exited */
  result: Promise<RunResult>;
}

/**
 * Listens once; the accepted socket becomes the program's fds 0 and 1
 * (`extra` fills fds 3 and up, 'pipe' for the test to use through
 * `onSpawn`). The parent's copy is closed at once, so it never reads a byte.
 */
export async function serveOnce(
  bin: string,
  args: string[],
  env: Record<string, string | undefined>,
  extra: StdioOptions = [],
  onSpawn?: (child: ReturnType<typeof spawn>) => void,
): Promise<Served> {
  const server = createServer({ pauseOnConnect: true });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as { port: number }).port;
  const result = new Promise<RunResult>((resolve, reject) => {
    server.once('connection', (socket: Socket) => {
      server.close();
      const stdio: StdioOptions = [socket, socket, 'pipe', ...(extra as unknown[])] as StdioOptions;
      const started = Date.now();
      const child = spawn(bin, args, { stdio, env: cleanEnv(env) });
      socket.destroy();
      waitFor(child, started, { onSpawn }).then(resolve, reject);
    });
  });
  return { port, result };
}

export interface ClientRun {
  socket?: TLSSocket;
  received: Buffer;
  error?: Error;
  /** the server certificate's CN, if the handshake got that far */
  serverCn?: string;
}

/**
 * A Node TLS client: sends `send`, half-closes, and collects everything the
 * server sends until it ends (or the connection fails).
 */
export function tlsClient(port: number, options: ConnectionOptions, send: Buffer | string = ''): Promise<ClientRun> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let serverCn: string | undefined;
    const socket = tlsConnect({ host: '127.0.0.1', port, allowHalfOpen: true, ...options } as ConnectionOptions);
    socket.on('secureConnect', () => {
      serverCn = socket.getPeerCertificate()?.subject?.CN as string | undefined;
      socket.end(send);
    });
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('error', (error) => resolve({ socket, received: Buffer.concat(chunks), error, serverCn }));
    socket.on('close', () => resolve({ socket, received: Buffer.concat(chunks), serverCn }));
  });
}
