// Runs s6-tlsserver as a supervisor would: a separate process, `-1` on a
// pipe for readiness (the port it bound), stderr collected for its log
// lines, stopped by a signal. Clients are Node's TLS in the test.

import { spawn, ChildProcess } from 'child_process';
import { once } from 'events';
import { connect as netConnect, Socket } from 'net';
import { connect as tlsConnect, ConnectionOptions, TLSSocket } from 'tls';
import { readdirSync, readFileSync } from 'fs';
import { join } from 'path';
import { cleanEnv, HANG_GUARD_MS, REPO } from './harness';

export const TLSSERVER = join(REPO, 'bin', 's6-tlsserver');

export interface RunningServer {
  child: ChildProcess;
  port: number;
  /** everything it wrote to stderr so far */
  log(): string;
  /** resolves when a log line matching `pattern` has been written (bounded by the hang guard) */
  logged(pattern: RegExp): Promise<void>;
  /** its exit: code or signal */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stop(signal?: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Starts s6-tlsserver -1 on 127.0.0.1, any port; resolves once it announced its port. */
export async function startTlsServer(options: string[], prog: string[], env: Record<string, string | undefined>, ip = '127.0.0.1'): Promise<RunningServer> {
  const child = spawn(TLSSERVER, ['-1', ...options, '--', ip, '0', ...prog], {
    env: cleanEnv(env),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  const waiters: { pattern: RegExp; resolve: () => void }[] = [];
  child.stderr?.on('data', (c: Buffer) => {
    stderr += c.toString();
    for (const w of waiters.splice(0)) {
      if (w.pattern.test(stderr)) w.resolve();
      else waiters.push(w);
    }
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  const guard = setTimeout(() => child.kill('SIGKILL'), HANG_GUARD_MS * 2);
  guard.unref();
  let out = '';
  child.stdout?.on('data', (c: Buffer) => (out += c.toString()));
  await Promise.race([once(child.stdout as NodeJS.ReadableStream, 'end'), exited]);
  const port = Number(out.trim());
  if (!(port > 0)) throw new Error(`s6-tlsserver did not announce a port (stdout ${JSON.stringify(out)}): ${stderr}`);
  return {
    child,
    port,
    log: () => stderr,
    logged: (pattern) =>
      new Promise<void>((resolve, reject) => {
        if (pattern.test(stderr)) return resolve();
        const timer = setTimeout(() => reject(new Error(`no log line ${pattern} in: ${stderr}`)), HANG_GUARD_MS);
        waiters.push({ pattern, resolve: () => (clearTimeout(timer), resolve()) });
      }),
    exited,
    stop: async (signal = 'SIGTERM') => {
      child.kill(signal);
      return exited;
    },
  };
}

/** A TLS client that sends `send`, half-closes unless `keepOpen`, and gathers the server's bytes until its end. */
export function client(port: number, options: ConnectionOptions, send: Buffer | string = '', keepOpen = false): { socket: TLSSocket; done: Promise<{ received: Buffer; error?: Error; localPort?: number }> } {
  const socket = tlsConnect({ host: '127.0.0.1', port, allowHalfOpen: true, ...options } as ConnectionOptions);
  const chunks: Buffer[] = [];
  const done = new Promise<{ received: Buffer; error?: Error; localPort?: number }>((resolve) => {
    let error: Error | undefined;
    let localPort: number | undefined;
    socket.on('secureConnect', () => {
      localPort = socket.localPort;
      if (keepOpen) socket.write(send);
      else socket.end(send);
    });
    socket.on('data', (c: Buffer) => chunks.push(c));
    // The server's end: ours follows, as a client that has nothing more to say.
    socket.on('end', () => socket.end());
    socket.on('error', (err) => (error = err));
    socket.on('close', () => resolve({ received: Buffer.concat(chunks), error, localPort }));
  });
  return { socket, done };
}

/** A plain TCP connection, for what comes before TLS (limits, banner, PROXY header). */
export async function tcp(port: number, localAddress?: string): Promise<Socket> {
  const socket = netConnect({ host: '127.0.0.1', port, localAddress });
  await once(socket, 'connect');
  return socket;
}

/** Descriptors a process holds. */
export function fdCount(pid: number): number {
  return readdirSync(`/proc/${pid}/fd`).length;
}

/** Its children, by pid (not yet reaped ones included). */
export function childrenOf(pid: number): number[] {
  return readdirSync(`/proc/${pid}/task`).flatMap((tid) =>
    readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number),
  );
}

/** Whether a process is a spawner of progs (the Python helper or a fork of the server): its environment says so from its start. */
function isSpawner(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/environ`, 'latin1').split('\0').some((v) => v.startsWith('S6_TLSSERVER_SPAWNER='));
  } catch {
    return false;
  }
}

/** The server's spawner of progs, if it has one. */
export function spawnerOf(pid: number): number | undefined {
  return childrenOf(pid).find(isSpawner);
}

/** The processes started for connections: the server's children and its spawner's, the spawner itself left out. */
export function progsOf(pid: number): number[] {
  const spawner = spawnerOf(pid);
  return [...childrenOf(pid).filter((c) => c !== spawner), ...(spawner ? childrenOf(spawner) : [])];
}

/** Waits until `check` holds, polling; fails after the hang guard. */
export async function until(check: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + HANG_GUARD_MS;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`never happened: ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
