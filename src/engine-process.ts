// s6-tlsc as root with TLS_UID/TLS_GID, as the C original does it: the
// engine (s6-tlsc-io) runs as a child process that drops its privileges,
// while this process keeps the caller's identity to start prog with it after
// the handshake. This process never reads a byte from the network.

import { execFileSync, spawn, StdioOptions } from 'child_process';
import { closeSync, existsSync, mkdtempSync, openSync, rmSync } from 'fs';
import { tmpdir } from 'os';
import { dirname, join } from 'path';
import { EXIT_SYSTEM, FatalError } from './errors';
import type { Socket } from 'net';
import type { Readable, Writable } from 'stream';
import { programEnvironment, startProgramWith } from './child';
import { decodeNotification } from './report';
import type { ProgramLaunch } from './tlsc';

/** bin/s6-tlsc-io of this package, run as users run it (its shebang's flags). */
function tlscIoExecutable(): string {
  // From dist/src or dist/src/bin (bundled) up to the package root.
  for (let dir = __dirname; dir !== dirname(dir); dir = dirname(dir)) {
    const candidate = join(dir, 'bin', 's6-tlsc-io');
    if (existsSync(candidate)) return candidate;
  }
  throw new FatalError(EXIT_SYSTEM, 'unable to find the s6-tlsc-io executable');
}

/**
 * A pipe as two blocking descriptors, neither wrapped in a Node stream: the
 * engine and prog each get one end. (A child's 'pipe' from spawn leaves our
 * end non-blocking, which prog would inherit, and starts reading it.) A FIFO
 * opened end by end gives two descriptions of our own; it is unlinked at once.
 */
function blockingPipe(): { read: number; write: number } {
  const dir = mkdtempSync(join(tmpdir(), 's6-tlsc-'));
  try {
    const path = join(dir, 'fifo');
    execFileSync('mkfifo', ['-m', '600', path]);
    // O_RDWR first, so that neither single-direction open blocks.
    const both = openSync(path, 'r+');
    const read = openSync(path, 'r');
    const write = openSync(path, 'w');
    closeSync(both);
    return { read, write };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The network as the engine child gets it: descriptors of ours, or a connected socket. */
export type EngineNetwork = { rfd: number; wfd: number } | { socket: Socket };

/**
 * Runs s6-tlsc-io with `engineOptions` on the network, then prog on its
 * cleartext side. Resolves to prog's exit code, or to the engine's if the
 * handshake failed (the engine has said why on stderr).
 */
export async function runWithEngineProcess(network: EngineNetwork, engineOptions: string[], launch: ProgramLaunch): Promise<number> {
  const fdr = 'socket' in network ? 6 : network.rfd;
  const fdw = 'socket' in network ? 7 : network.wfd;
  const notif = Math.max(fdr, fdw) + 1;
  const toEngine = blockingPipe();
  const fromEngine = blockingPipe();
  const stdio: StdioOptions = [toEngine.read, fromEngine.write, 'inherit'];
  for (let fd = 3; fd <= notif; fd++) stdio.push('ignore');
  stdio[fdr] = 'socket' in network ? network.socket : fdr;
  stdio[fdw] = 'socket' in network ? network.socket : fdw;
  stdio[notif] = 'pipe';
  const engine = spawn(tlscIoExecutable(), [...engineOptions, '-d', String(notif), '--', String(fdr), String(fdw)], { stdio });
  if ('socket' in network) network.socket.destroy();
  closeSync(toEngine.read);
  closeSync(fromEngine.write);
  const streams = engine.stdio as unknown as (Readable & Writable)[];

  const notification = await new Promise<Buffer | undefined>((resolve) => {
    const chunks: Buffer[] = [];
    streams[notif].on('data', (c: Buffer) => chunks.push(c));
    streams[notif].on('error', () => resolve(undefined));
    streams[notif].on('close', () => resolve(chunks.length ? Buffer.concat(chunks) : undefined));
  });
  if (!notification) {
    // No report: the handshake failed, and the engine's code is ours.
    closeSync(toEngine.write);
    closeSync(fromEngine.read);
    return new Promise((resolve) => {
      if (engine.exitCode !== null) return resolve(engine.exitCode);
      engine.once('exit', (code) => resolve(code ?? 111));
    });
  }
  // prog's rfd reads what the engine writes to its stdout; prog's wfd feeds the engine's stdin.
  const env = programEnvironment(process.env, decodeNotification(notification), launch.keepTlsConfig, launch.extraEnv);
  const program = startProgramWith(launch.argv, env, { [launch.rfd]: fromEngine.read, [launch.wfd]: toEngine.write });
  closeSync(toEngine.write);
  closeSync(fromEngine.read);
  return program.exited;
}
