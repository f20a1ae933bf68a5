// Real TLS servers for the tests: Node's tls server, OpenSSL's s_server and
// a Python ssl observer, all on 127.0.0.1 and stopped by the tests.

import { createSecureContext, createServer, Server as TlsServer, TLSSocket, SecureVersion } from 'tls';
import { createServer as createNetServer, Server as NetServer, Socket } from 'net';
import { spawn, ChildProcess } from 'child_process';
import { join } from 'path';
import { once } from 'events';
import { createInterface } from 'readline';
import { REPO } from './harness';
import type { Cert } from './pki';

export interface TlsServerOptions {
  leaf: Cert;
  /** intermediates sent after the leaf */
  chain?: Cert[];
  minVersion?: SecureVersion;
  maxVersion?: SecureVersion;
  /** require a client certificate signed by this CA */
  clientCa?: Cert;
  /** ALPN protocols the server accepts, in its order of preference */
  alpn?: string[];
  /** OpenSSL cipher string (e.g. with @SECLEVEL=0 for TLS 1.0 and 1.1) */
  ciphers?: string;
  /** listen on this address instead of 127.0.0.1 */
  host?: string;
}

export interface RunningServer {
  port: number;
  close(): Promise<void>;
  /** errors seen on server-side connections */
  errors: Error[];
}

/** `onConnection` also gets the TCP socket under the TLS one, to cut it (reset) where a test needs. */
export async function startTlsServer(
  opts: TlsServerOptions,
  onConnection: (socket: TLSSocket, raw: Socket) => void,
): Promise<RunningServer> {
  const errors: Error[] = [];
  const rawByPort = new Map<number, Socket>();
  const server: TlsServer = createServer(
    {
      key: opts.leaf.keyPem,
      cert: opts.leaf.certPem + (opts.chain ?? []).map((c) => c.certPem).join(''),
      minVersion: opts.minVersion ?? 'TLSv1.2',
      maxVersion: opts.maxVersion ?? 'TLSv1.3',
      requestCert: !!opts.clientCa,
      rejectUnauthorized: !!opts.clientCa,
      ca: opts.clientCa ? [opts.clientCa.certPem] : undefined,
      ALPNProtocols: opts.alpn,
      ciphers: opts.ciphers,
      allowHalfOpen: true,
    },
    (socket) => {
      socket.on('error', (e) => errors.push(e));
      onConnection(socket, rawByPort.get(socket.remotePort as number) as Socket);
    },
  );
  server.on('tlsClientError', (e) => errors.push(e));
  server.on('connection', (raw: Socket) => rawByPort.set(raw.remotePort as number, raw));
  const sockets = trackConnections(server);
  server.listen(0, opts.host ?? '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as { port: number }).port;
  return { port, errors, close: () => closeServer(server, sockets) };
}

/** Remembers every connection, so that closing cannot wait on one a failed test left open. */
function trackConnections(server: TlsServer | NetServer): Set<Socket> {
  const sockets = new Set<Socket>();
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  return sockets;
}

function closeServer(server: TlsServer | NetServer, sockets?: Set<Socket>): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    for (const s of sockets ?? []) s.destroy();
  });
}

/** A plain TCP server for hostile or silent peers. */
export async function startRawServer(onConnection: (socket: Socket) => void): Promise<RunningServer> {
  const errors: Error[] = [];
  const server = createNetServer({ allowHalfOpen: true }, (socket) => {
    socket.on('error', (e) => errors.push(e));
    onConnection(socket);
  });
  const sockets = trackConnections(server);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as { port: number }).port;
  return { port, errors, close: () => closeServer(server, sockets) };
}

/** Echo every byte back; end our side when the client ends its side. */
export function echo(socket: TLSSocket): void {
  socket.pipe(socket);
}

export interface ObserverResult {
  received: number;
  sha256: string;
  client_end: 'clean' | 'ragged' | 'none';
  error: string | null;
}

export interface Observer {
  port: number;
  result: Promise<ObserverResult>;
  process: ChildProcess;
}

/** The Python observer (test/fixtures/tls_observer.py): tells clean from ragged client EOF. */
export async function startObserver(config: Record<string, unknown>): Promise<Observer> {
  const child = spawn('python3', [join(REPO, 'test', 'fixtures', 'tls_observer.py'), JSON.stringify(config)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: child.stdout! });
  const iterator = lines[Symbol.asyncIterator]();
  const first = await iterator.next();
  const m = /^PORT (\d+)$/.exec(String(first.value));
  if (!m) throw new Error(`observer did not start: ${first.value}`);
  const result = iterator.next().then((r) => JSON.parse(String(r.value)) as ObserverResult);
  return { port: Number(m[1]), result, process: child };
}

/** A free TCP port on 127.0.0.1 (for servers that cannot report their own). */
export async function freePort(): Promise<number> {
  const server = createNetServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as { port: number }).port;
  await closeServer(server);
  return port;
}

/** openssl s_server for one connection; its stdin is sent to the client, its stdout is what it received. */
export async function startOpensslServer(args: string[]): Promise<{ port: number; process: ChildProcess; output: Promise<string> }> {
  const port = await freePort();
  const child = spawn('openssl', ['s_server', '-accept', `127.0.0.1:${port}`, '-naccept', '1', ...args], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let text = '';
  child.stdout!.on('data', (c: Buffer) => (text += c.toString('latin1')));
  child.stderr!.on('data', (c: Buffer) => (text += c.toString('latin1')));
  const output = new Promise<string>((resolve) => child.on('exit', () => resolve(text)));
  // Wait until it accepts.
  for (let i = 0; i < 100 && !/ACCEPT/.test(text); i++) await new Promise((r) => setTimeout(r, 20));
  return { port, process: child, output };
}

/**
 * A TLS server over a plain TCP server, for tests that end the TCP side
 * their own way (a bare FIN, a reset): `onSecure` gets the TLS socket and
 * the raw socket under it.
 */
export async function startTlsOverTcp(leaf: Cert, onSecure: (tls: TLSSocket, raw: Socket) => void): Promise<RunningServer> {
  const secureContext = createSecureContext({ key: leaf.keyPem, cert: leaf.certPem });
  const errors: Error[] = [];
  const server = createNetServer({ allowHalfOpen: true }, (raw) => {
    raw.on('error', () => undefined);
    const tls = new TLSSocket(raw, { isServer: true, secureContext });
    tls.on('error', (e) => errors.push(e));
    tls.once('secure', () => onSecure(tls, raw));
  });
  const sockets = trackConnections(server);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as { port: number }).port;
  return { port, errors, close: () => closeServer(server, sockets) };
}
