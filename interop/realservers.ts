// Real TLS servers from Debian for the interop suite, each started on
// 127.0.0.1 with a throwaway configuration in a temporary directory and
// stopped by the suite: nginx, haproxy, stunnel4, gnutls-serv, socat,
// openssl s_server and a Python ssl server. None of them is ours: that is
// the point.

import { spawn, ChildProcess } from 'child_process';
import { connect, createServer, Socket } from 'net';
import { mkdirSync, writeFileSync, readFileSync, existsSync } from 'fs';
import { join } from 'path';
import { once } from 'events';
import { createInterface } from 'readline';
import { freePort } from '../test/helpers/servers';
import type { Cert } from '../test/helpers/pki';

export interface RealServer {
  name: string;
  port: number;
  /** the server's own log (error log, stderr), for diagnostics */
  log(): string;
  /** the server's log file, where it has one */
  logFile?: string;
  stop(): Promise<void>;
}

/** Where the interop suite keeps the Python server (the .py is not compiled: it sits beside the sources). */
const SOURCE_DIR = join(__dirname, '..', '..', 'interop');

/** Resolves once 127.0.0.1:port accepts a TCP connection; fails if the process exits first or after timeoutMs. */
export async function waitForPort(port: number, child: ChildProcess, describe: () => string, timeoutMs = 15000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`server exited (${child.exitCode ?? child.signalCode}) before listening: ${describe()}`);
    }
    const ok = await new Promise<boolean>((resolve) => {
      const s: Socket = connect({ port, host: '127.0.0.1' });
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`server did not listen on ${port} within ${timeoutMs} ms: ${describe()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * Stops a server we started: SIGTERM to its process group (socat forks a
 * child per connection), SIGKILL if it lingers; its output pipes are closed
 * so that a forked child still holding them cannot keep the suite alive.
 */
export async function stopProcess(child: ChildProcess): Promise<void> {
  const signalGroup = (signal: NodeJS.Signals): void => {
    try {
      process.kill(-(child.pid as number), signal);
    } catch {
      // already gone
    }
  };
  if (child.exitCode === null && child.signalCode === null) {
    const exited = once(child, 'exit');
    signalGroup('SIGTERM');
    const timer = setTimeout(() => signalGroup('SIGKILL'), 3000);
    await exited;
    clearTimeout(timer);
  }
  signalGroup('SIGKILL');
  child.stdout?.destroy();
  child.stderr?.destroy();
}

/** Spawns `command`, collecting its output into a text the caller can read for diagnostics. */
function launch(command: string, args: string[], cwd: string): { child: ChildProcess; output: () => string } {
  // detached: a process group of its own, stopped as a whole.
  const child = spawn(command, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let text = '';
  const keep = (c: Buffer): void => {
    // The tail is what explains a failure; do not grow without bound.
    text = (text + c.toString('latin1')).slice(-20000);
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  return { child, output: () => text };
}

async function startOnFreePort(
  name: string,
  dir: string,
  build: (port: number) => { command: string; args: string[]; logFile?: string },
): Promise<RealServer> {
  const port = await freePort();
  const { command, args, logFile } = build(port);
  const { child, output } = launch(command, args, dir);
  const log = (): string => output() + (logFile && existsSync(logFile) ? readFileSync(logFile, 'latin1').slice(-20000) : '');
  await waitForPort(port, child, log);
  return { name, port, log, logFile, stop: () => stopProcess(child) };
}

/** A certificate and its key in one file, as haproxy wants them. */
function combinedPem(dir: string, leaf: Cert): string {
  const path = join(dir, 'combined.pem');
  writeFileSync(path, leaf.certPem + leaf.keyPem);
  return path;
}

/** nginx (Debian's nginx-light) serving `root` over TLS 1.2 and 1.3, one process, logs at info level. */
export function startNginx(dir: string, leaf: Cert, root: string): Promise<RealServer> {
  mkdirSync(join(dir, 'tmp'), { recursive: true });
  const errorLog = join(dir, 'error.log');
  return startOnFreePort('nginx', dir, (port) => {
    const conf = join(dir, 'nginx.conf');
    writeFileSync(
      conf,
      [
        'daemon off;',
        'master_process off;',
        'worker_processes 1;',
        `pid ${join(dir, 'nginx.pid')};`,
        // info: "client prematurely closed connection" is logged at this level.
        `error_log ${errorLog} info;`,
        'events { worker_connections 256; }',
        'http {',
        `  access_log ${join(dir, 'access.log')};`,
        ...['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((t) => `  ${t}_temp_path ${join(dir, 'tmp')};`),
        '  server {',
        `    listen 127.0.0.1:${port} ssl;`,
        '    server_name server.test;',
        `    ssl_certificate ${leaf.certPath};`,
        `    ssl_certificate_key ${leaf.keyPath};`,
        '    ssl_protocols TLSv1.2 TLSv1.3;',
        `    root ${root};`,
        '  }',
        '}',
        '',
      ].join('\n'),
    );
    // -e: the error log before the configuration is read (the default path may not be writable).
    return { command: 'nginx', args: ['-c', conf, '-p', dir, '-e', errorLog], logFile: errorLog };
  });
}

/** nginx as a plain-HTTP reverse proxy to https://127.0.0.1:backend, verifying it as `name` against `ca`. */
export function startNginxProxy(dir: string, backendPort: number, ca: string, name: string): Promise<RealServer> {
  mkdirSync(join(dir, 'tmp'), { recursive: true });
  const errorLog = join(dir, 'error.log');
  return startOnFreePort('nginx-proxy', dir, (port) => {
    const conf = join(dir, 'nginx.conf');
    writeFileSync(
      conf,
      [
        'daemon off;',
        'master_process off;',
        'worker_processes 1;',
        `pid ${join(dir, 'nginx.pid')};`,
        `error_log ${errorLog} info;`,
        'events { worker_connections 256; }',
        'http {',
        `  access_log ${join(dir, 'access.log')};`,
        ...['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((t) => `  ${t}_temp_path ${join(dir, 'tmp')};`),
        '  client_max_body_size 64m;',
        '  server {',
        `    listen 127.0.0.1:${port};`,
        '    location / {',
        `      proxy_pass https://127.0.0.1:${backendPort};`,
        '      proxy_ssl_verify on;',
        `      proxy_ssl_trusted_certificate ${ca};`,
        `      proxy_ssl_name ${name};`,
        '      proxy_ssl_server_name on;',
        '      proxy_ssl_protocols TLSv1.2 TLSv1.3;',
        '    }',
        '  }',
        '}',
        '',
      ].join('\n'),
    );
    return { command: 'nginx', args: ['-c', conf, '-p', dir, '-e', errorLog], logFile: errorLog };
  });
}

/** A plain TCP echo server (the backend behind haproxy and stunnel): every byte back, FIN after the client's FIN. */
export async function startTcpEcho(): Promise<{ port: number; stop(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server = createServer({ allowHalfOpen: true }, (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => undefined);
    s.pipe(s);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    port: (server.address() as { port: number }).port,
    stop: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/** haproxy terminating TLS in front of a TCP echo backend. */
export function startHaproxy(dir: string, leaf: Cert, backendPort: number): Promise<RealServer> {
  const pem = combinedPem(dir, leaf);
  return startOnFreePort('haproxy', dir, (port) => {
    const conf = join(dir, 'haproxy.cfg');
    writeFileSync(
      conf,
      [
        'global',
        '  maxconn 256',
        'defaults',
        '  mode tcp',
        '  timeout connect 5s',
        '  timeout client 60s',
        '  timeout server 60s',
        'frontend tls',
        `  bind 127.0.0.1:${port} ssl crt ${pem}`,
        '  default_backend echo',
        'backend echo',
        `  server echo 127.0.0.1:${backendPort}`,
        '',
      ].join('\n'),
    );
    // -db: foreground, no daemon.
    return { command: 'haproxy', args: ['-db', '-f', conf] };
  });
}

/** stunnel4 in server mode in front of a TCP echo backend. */
export function startStunnel(dir: string, leaf: Cert, backendPort: number): Promise<RealServer> {
  const logFile = join(dir, 'stunnel.log');
  return startOnFreePort('stunnel4', dir, (port) => {
    const conf = join(dir, 'stunnel.conf');
    writeFileSync(
      conf,
      [
        'foreground = yes',
        'pid =',
        `output = ${logFile}`,
        '[echo]',
        `accept = 127.0.0.1:${port}`,
        `connect = 127.0.0.1:${backendPort}`,
        `cert = ${leaf.certPath}`,
        `key = ${leaf.keyPath}`,
        '',
      ].join('\n'),
    );
    return { command: 'stunnel4', args: [conf], logFile };
  });
}

/**
 * gnutls-serv --echo (GnuTLS's own implementation, TLS 1.2 and 1.3).
 * --crlf keeps CR LF as sent (the echo mode turns it into LF otherwise).
 * gnutls-serv has no bind option: it listens on every address, on a free port.
 */
export function startGnutlsEcho(dir: string, leaf: Cert): Promise<RealServer> {
  return startOnFreePort('gnutls-serv', dir, (port) => ({
    command: 'gnutls-serv',
    args: ['--echo', '--crlf', '-q', '-p', String(port), '--x509certfile', leaf.certPath, '--x509keyfile', leaf.keyPath],
  }));
}

/**
 * socat OPENSSL-LISTEN with a PIPE: what it reads comes back. -t 10: after
 * one side's EOF, socat waits this long for the other (0.5 s by default,
 * which can cut a 4 MiB echo on a loaded machine: socat's choice, not ours).
 * -b 4096: socat reads and writes the pipe itself with blocking writes; a
 * block larger than a pipe page can block it on its own pipe for good.
 */
export function startSocatEcho(dir: string, leaf: Cert): Promise<RealServer> {
  return startOnFreePort('socat', dir, (port) => ({
    command: 'socat',
    args: ['-t', '10', '-b', '4096', `OPENSSL-LISTEN:${port},bind=127.0.0.1,reuseaddr,fork,cert=${leaf.certPath},key=${leaf.keyPath},verify=0`, 'PIPE'],
  }));
}

/** openssl s_server -WWW: serves files from `root`, its working directory (GET /name HTTP/1.0), one TLS version. */
export function startOpensslWww(leaf: Cert, root: string, version: '1.2' | '1.3'): Promise<RealServer> {
  return startOnFreePort(`openssl s_server ${version}`, root, (port) => ({
    command: 'openssl',
    args: ['s_server', '-accept', `127.0.0.1:${port}`, '-WWW', '-quiet', version === '1.2' ? '-tls1_2' : '-tls1_3', '-cert', leaf.certPath, '-key', leaf.keyPath],
  }));
}

/** Python's ssl module (Debian's /usr/bin/python3): `echo`, or `answer` with `file` after an HTTP-style request. */
export async function startPythonServer(leaf: Cert, mode: 'echo' | 'answer', file?: string): Promise<RealServer> {
  const python = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
  const args = [join(SOURCE_DIR, 'py_tls_server.py'), leaf.certPath, leaf.keyPath, mode, ...(file ? [file] : [])];
  const child = spawn(python, args, { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let errors = '';
  child.stderr!.on('data', (c: Buffer) => (errors = (errors + c.toString()).slice(-20000)));
  const first = await createInterface({ input: child.stdout! })[Symbol.asyncIterator]().next();
  const m = /^PORT (\d+)$/.exec(String(first.value));
  if (!m) throw new Error(`python server did not start: ${String(first.value)} ${errors}`);
  return { name: `python ssl ${mode}`, port: Number(m[1]), log: () => errors, stop: () => stopProcess(child) };
}

/** stunnel's account of each connection it closed, in order: bytes it sent to TLS and to the backend socket. */
export function stunnelClosures(log: string): { toTls: number; toSocket: number }[] {
  return [...log.matchAll(/Connection closed: (\d+) byte\(s\) sent to TLS, (\d+) byte\(s\) sent to socket/g)].map((m) => ({
    toTls: Number(m[1]),
    toSocket: Number(m[2]),
  }));
}

/**
 * socat OPENSSL-LISTEN with SYSTEM:yes: a server that streams until the
 * client ends (like a log follower). -d -d: its log says when it saw our end
 * ("is at EOF").
 */
export function startSocatStream(dir: string, leaf: Cert): Promise<RealServer> {
  return startOnFreePort('socat SYSTEM:yes', dir, (port) => ({
    command: 'socat',
    args: ['-d', '-d', `OPENSSL-LISTEN:${port},bind=127.0.0.1,reuseaddr,fork,cert=${leaf.certPath},key=${leaf.keyPath},verify=0`, 'SYSTEM:yes'],
  }));
}
