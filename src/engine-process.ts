// The engine as a child process (s6-tlsc-io), for root dropping privileges
// with TLS_UID/TLS_GID, as the C tools do it: the child drops them, while
// this process keeps the caller's identity to start prog and signal it.
// The child gets prog's pipes as its stdin and stdout, the same wiring as
// the in-process engine (src/tlsc.ts). This process never reads a byte of
// the network.

import { spawn, StdioOptions } from 'child_process';
import { existsSync } from 'fs';
import { dirname, join } from 'path';
import type { Socket } from 'net';
import type { Readable } from 'stream';
import { EXIT_SYSTEM, FatalError, describeSystemError } from './errors';
import { closeEnds, programEnvironment } from './child';
import { decodeNotification } from './report';
import { closePipes, ProgramLaunch, ProgramPipes, startOnPipes } from './tlsc';

/** bin/s6-tlsc-io of this package, run as users run it (its shebang's flags). */
function tlscIoExecutable(): string {
  // From dist/src or dist/src/bin (bundled) up to the package root.
  for (let dir = __dirname; dir !== dirname(dir); dir = dirname(dir)) {
    const candidate = join(dir, 'bin', 's6-tlsc-io');
    if (existsSync(candidate)) return candidate;
  }
  throw new FatalError(EXIT_SYSTEM, 'unable to find the s6-tlsc-io executable');
}

/** The network as the engine child gets it: descriptors of ours, or a connected socket. */
export type EngineNetwork = { rfd: number; wfd: number } | { socket: Socket };

export interface EngineProcess {
  /** the section 5 report once the handshake is done; undefined if it failed */
  notification: Promise<Buffer | undefined>;
  /** the engine's exit code */
  exited: Promise<number>;
}

/**
 * Starts s6-tlsc-io with `engineOptions` on the network, its stdin and
 * stdout on our ends of prog's pipes (closed here once it has them).
 */
export function startEngineProcess(network: EngineNetwork, engineOptions: string[], pipes: ProgramPipes): EngineProcess {
  const fdr = 'socket' in network ? 6 : network.rfd;
  const fdw = 'socket' in network ? 7 : network.wfd;
  const notif = Math.max(fdr, fdw) + 1;
  const stdio: StdioOptions = [pipes.fromProgram.read, pipes.toProgram.write, 'inherit'];
  for (let fd = 3; fd <= notif; fd++) stdio.push('ignore');
  stdio[fdr] = 'socket' in network ? network.socket : fdr;
  stdio[fdw] = 'socket' in network ? network.socket : fdw;
  stdio[notif] = 'pipe';
  let engine;
  try {
    engine = spawn(tlscIoExecutable(), [...engineOptions, '-d', String(notif), '--', String(fdr), String(fdw)], { stdio });
  } catch (err) {
    throw new FatalError(EXIT_SYSTEM, `unable to spawn s6-tlsc-io: ${describeSystemError(err)}`);
  } finally {
    if ('socket' in network) network.socket.destroy();
    closeEnds([pipes.fromProgram, 'read'], [pipes.toProgram, 'write']);
  }
  const child = engine;
  const exited = new Promise<number>((resolve) => {
    child.once('error', () => resolve(EXIT_SYSTEM));
    child.once('exit', (code, signal) => resolve(code ?? (signal ? 128 : EXIT_SYSTEM)));
  });
  const notification = new Promise<Buffer | undefined>((resolve) => {
    const stream = child.stdio[notif] as Readable;
    const chunks: Buffer[] = [];
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('error', () => resolve(undefined));
    stream.on('close', () => resolve(chunks.length ? Buffer.concat(chunks) : undefined));
  });
  return { notification, exited };
}

/**
 * s6-tlsc and s6-tlsclient dropping privileges: the engine child, then prog
 * on the pipes after the handshake. Resolves to prog's exit code, or to the
 * engine's if the handshake failed (the engine has said why on stderr).
 */
export async function runWithEngineProcess(network: EngineNetwork, engineOptions: string[], launch: ProgramLaunch, pipes: ProgramPipes): Promise<number> {
  const engine = startEngineProcess(network, engineOptions, pipes);
  const notification = await engine.notification;
  if (!notification) {
    closePipes(pipes);
    return engine.exited;
  }
  const env = programEnvironment(process.env, decodeNotification(notification), launch.keepTlsConfig, await launch.extraEnv);
  return startOnPipes(launch, env, pipes).exited;
}
