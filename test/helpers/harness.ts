// Runs the real executable as a separate process, the way users do: a real
// TCP connection at fds 6 and 7 (or other descriptors), pipes or sockets on
// 0, 1 and 2, and optionally a notification pipe.

import { spawn, ChildProcess, StdioOptions } from 'child_process';
import { connect, Socket } from 'net';
import { join } from 'path';
import { createHash } from 'crypto';
import type { Readable } from 'stream';

export const REPO = join(__dirname, '..', '..', '..');
// Run as users run it: the executable itself, with its shebang's flags.
export const BIN = join(REPO, 'bin', 's6-tlsc-io');

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: Buffer;
  stderr: string;
  notification?: Buffer;
  /** milliseconds from spawn to exit */
  elapsed: number;
}

export interface RunOptions {
  env?: Record<string, string | undefined>;
  /** bytes written to stdin, then stdin is closed unless keepStdinOpen */
  stdin?: Buffer | string;
  keepStdinOpen?: boolean;
  /**
   * A guard against a hang, not a time limit: the process is killed and the
   * test fails past this many ms, and never before HANG_GUARD_MS (a loaded
   * machine can make any run slow; the tests never judge speed).
   */
  timeoutMs?: number;
  /** collect a notification pipe at this fd */
  notificationFd?: number;
  /** called once the child runs, with it */
  onSpawn?: (child: ChildProcess) => void;
  /** extra spawn options (uid, gid) */
  spawn?: { uid?: number; gid?: number };
  /** another program of the package (s6-tlsc, s6-tlsclient); default s6-tlsc-io */
  bin?: string;
}

/** Base environment: nothing from the test runner's own TLS settings leaks in. */
export function cleanEnv(extra: Record<string, string | undefined>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH ?? '/usr/bin:/bin' };
  for (const [k, v] of Object.entries(extra)) if (v !== undefined) env[k] = v;
  return env;
}

export function sha256(data: Buffer | string): string {
  return createHash('sha256').update(data).digest('hex');
}

function collect(stream: Readable | null | undefined): Promise<Buffer> {
  return new Promise((resolve) => {
    if (!stream) return resolve(Buffer.alloc(0));
    const chunks: Buffer[] = [];
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('error', () => resolve(Buffer.concat(chunks)));
    stream.on('close', () => resolve(Buffer.concat(chunks)));
  });
}

/** Spawns the program with `stdio` and waits for it, feeding stdin. */
export function runWithStdio(args: string[], stdio: StdioOptions, opts: RunOptions): Promise<RunResult> {
  const started = Date.now();
  const child = spawn(opts.bin ?? BIN, args, { stdio, env: cleanEnv(opts.env ?? {}), ...opts.spawn });
  return waitFor(child, started, opts);
}

/** The least time a run is given before it counts as hung: minutes, not seconds. */
export const HANG_GUARD_MS = 180_000;

export function waitFor(child: ChildProcess, started: number, opts: RunOptions): Promise<RunResult> {
  const timeoutMs = Math.max(opts.timeoutMs ?? 0, HANG_GUARD_MS);
  const stdout = collect(child.stdout);
  const stderr = collect(child.stderr);
  const notification = opts.notificationFd !== undefined ? collect(child.stdio[opts.notificationFd] as Readable) : undefined;
  if (child.stdin) {
    child.stdin.on('error', () => undefined);
    if (opts.stdin !== undefined) child.stdin.write(opts.stdin);
    if (!opts.keepStdinOpen) child.stdin.end();
  }
  opts.onSpawn?.(child);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`s6-tlsc-io did not exit within ${timeoutMs} ms`));
    }, timeoutMs);
    child.on('exit', async (code, signal) => {
      clearTimeout(timer);
      const elapsed = Date.now() - started;
      resolve({
        code,
        signal,
        stdout: await stdout,
        stderr: (await stderr).toString(),
        notification: notification ? await notification : undefined,
        elapsed,
      });
    });
  });
}

/**
 * Connects to 127.0.0.1:port and runs the program with that socket at fds 6
 * and 7. The spawn happens in the connect callback, and the parent's copy is
 * closed in the same tick, so the parent never reads a byte of the connection.
 */
export function runWithSocket(port: number, args: string[], opts: RunOptions = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const socket: Socket = connect({ port, host: '127.0.0.1' });
    socket.once('error', reject);
    socket.once('connect', () => {
      const stdio: StdioOptions = ['pipe', 'pipe', 'pipe', 'ignore', 'ignore', 'ignore', socket, socket];
      if (opts.notificationFd !== undefined) stdio[opts.notificationFd] = 'pipe';
      const started = Date.now();
      const child = spawn(opts.bin ?? BIN, args, { stdio, env: cleanEnv(opts.env ?? {}), ...opts.spawn });
      socket.destroy();
      waitFor(child, started, opts).then(resolve, reject);
    });
  });
}

/** Splits a notification into its KEY=value strings; checks the final double NUL. */
export function parseNotification(data: Buffer): string[] {
  const text = data.toString('utf8');
  if (!text.endsWith('\0\0')) throw new Error(`notification does not end with two NULs: ${JSON.stringify(text)}`);
  return text.slice(0, -2).split('\0');
}

/** Runs any command on pipes, stdin given at once, until it exits. */
export function runCommand(
  command: string,
  args: string[],
  env: Record<string, string | undefined>,
  stdin = '',
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'], env: cleanEnv(env) });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c) => (stdout += c));
    child.stderr.on('data', (c) => (stderr += c));
    child.stdin.on('error', () => undefined);
    child.stdin.end(stdin);
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}
