// The engine as a child process (s6-tlsc-io), for root dropping privileges
// with TLS_UID/TLS_GID, as the C tools do it: the child drops them, while
// this process keeps the caller's identity to start prog and signal it.
// The child's cleartext side is socket pairs that prog gets as its rfd and
// wfd, the same wiring as the in-process engine (src/wiring/prog.ts). This process
// never reads a byte of the network, nor of the cleartext.

import { ChildProcess, spawn, StdioOptions } from 'child_process';
import { closeSync, existsSync, openSync } from 'fs';
import { dirname, join } from 'path';
import type { Socket } from 'net';
import type { Readable } from 'stream';
import { EXIT_SYSTEM, FatalError, describeSystemError } from '../base/errors';
import { programEnvironment, startProgramWith } from './child';
import { makeBlocking, stopReading } from '../base/node-internals';
import { decodeNotification } from '../engine/report';
import { closeChannels, ProgramChannels, ProgramLaunch } from './prog';

/** bin/NAME of this package (s6-tlsc-io, s6-tlsd-io), run as users run it (its launcher). */
function engineExecutable(name: 's6-tlsc-io' | 's6-tlsd-io'): string {
  // From dist/src or dist/src/bin (bundled) up to the package root.
  for (let dir = __dirname; dir !== dirname(dir); dir = dirname(dir)) {
    const candidate = join(dir, 'bin', name);
    if (existsSync(candidate)) return candidate;
  }
  throw new FatalError(EXIT_SYSTEM, `unable to find the ${name} executable`);
}

function spawnEngine(name: 's6-tlsc-io' | 's6-tlsd-io', args: string[], stdio: StdioOptions): ChildProcess {
  try {
    return spawn(engineExecutable(name), args, { stdio });
  } catch (err) {
    throw new FatalError(EXIT_SYSTEM, `unable to spawn ${name}: ${describeSystemError(err)}`);
  }
}

/** The engine child's exit code, and its report read from the descriptor `notif`. */
function watchEngine(child: ChildProcess, notif: number): Pick<EngineProcess, 'exited' | 'notification'> {
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
  return { exited, notification };
}

/** The network as the engine child gets it: descriptors of ours, or a connected socket. */
export type EngineNetwork = { rfd: number; wfd: number } | { socket: Socket };

export interface EngineProcess {
  /** the section 5 report once the handshake is done; undefined if it failed */
  notification: Promise<Buffer | undefined>;
  /** the engine's exit code */
  exited: Promise<number>;
  /** with 'new': our ends of the engine's cleartext channels, for prog */
  channels?: ProgramChannels;
}

/**
 * The engine's cleartext descriptors: ours to hand it (prog's channels, for
 * s6-ucspitlsc), or 'new' for socket pairs made by this spawn, handed to
 * prog afterwards (s6-tlsc, s6-tlsclient).
 */
export type EngineCleartext = { input: Socket; output: Socket } | 'new';

/**
 * Starts s6-tlsc-io with `engineOptions` on the network and the given
 * cleartext side. With 'new', the engine writes its output at its fd 0,
 * whose end here is made not reading (spawn reads only the ends of the
 * descriptors above 0): what the server sends before prog starts waits in
 * the socket for prog, none of it in this process. Its input is at fd 1, whose
 * end here may read but gets nothing, since the engine never writes there.
 */
export function startEngineProcess(network: EngineNetwork, engineOptions: string[], cleartext: EngineCleartext): EngineProcess {
  const fdr = 'socket' in network ? 6 : network.rfd;
  const fdw = 'socket' in network ? 7 : network.wfd;
  const notif = Math.max(fdr, fdw) + 1;
  const fresh = cleartext === 'new';
  const stdio: StdioOptions = fresh ? ['pipe', 'pipe', 'inherit'] : [cleartext.input, cleartext.output, 'inherit'];
  for (let fd = 3; fd <= notif; fd++) stdio.push('ignore');
  stdio[fdr] = 'socket' in network ? network.socket : fdr;
  stdio[fdw] = 'socket' in network ? network.socket : fdw;
  stdio[notif] = 'pipe';
  const where = fresh ? ['--cleartext-input-fd=1', '--cleartext-output-fd=0'] : [];
  let child;
  try {
    child = spawnEngine('s6-tlsc-io', [...engineOptions, ...where, '-d', String(notif), '--', String(fdr), String(fdw)], stdio);
  } finally {
    if ('socket' in network) network.socket.destroy();
    if (!fresh) closeChannels({ toProgram: cleartext.output, fromProgram: cleartext.input });
  }
  const channels = fresh ? { toProgram: child.stdio[0] as Socket, fromProgram: child.stdio[1] as Socket } : undefined;
  return { ...watchEngine(child, notif), channels };
}

/**
 * The server programs' engine child: s6-tlsd-io on our stdin and stdout
 * (the client's connection), its cleartext at its fds 3 (read) and 4
 * (written), the report at 5. With 'new' (s6-tlsd) the cleartext is new
 * socket pairs, for prog afterwards: our end of fd 4 is stopped from reading
 * at once, so that what the client sends before prog starts waits in that
 * socket. Otherwise (s6-ucspitlsd) they are prog's channels, handed over.
 */
export function startServerEngineProcess(engineOptions: string[], cleartext: EngineCleartext = 'new'): EngineProcess {
  const fresh = cleartext === 'new';
  const stdio: StdioOptions = [0, 1, 'inherit', fresh ? 'pipe' : cleartext.input, fresh ? 'pipe' : cleartext.output, 'pipe'];
  let child;
  try {
    child = spawnEngine('s6-tlsd-io', [...engineOptions, '-d', '5', '--', '3', '4'], stdio);
  } finally {
    if (!fresh) closeChannels({ toProgram: cleartext.output, fromProgram: cleartext.input });
  }
  if (!fresh) return watchEngine(child, 5);
  const toProgram = child.stdio[4] as Socket;
  stopReading(toProgram);
  // The connection is the engine's alone now: a copy of ours on 0 and 1
  // would keep it open after the engine closed it, for as long as prog runs.
  for (const fd of [0, 1]) closeSync(fd);
  for (const fd of [0, 1]) if (openSync('/dev/null', fd === 0 ? 'r' : 'w') !== fd) throw new FatalError(EXIT_SYSTEM, 'unable to put /dev/null on stdin and stdout');
  return { ...watchEngine(child, 5), channels: { toProgram, fromProgram: child.stdio[3] as Socket } };
}

/**
 * s6-tlsc and s6-tlsclient dropping privileges: the engine child, then prog
 * on the engine's cleartext channels after the handshake. Resolves to prog's
 * exit code, or to the engine's if the handshake failed (the engine has said
 * why on stderr).
 */
export async function runWithEngineProcess(network: EngineNetwork, engineOptions: string[], launch: ProgramLaunch): Promise<number> {
  return runProgramOnEngine(startEngineProcess(network, engineOptions, 'new'), launch);
}

/** prog on an engine child's channels once its report is in; the engine's code if there is none. */
export async function runProgramOnEngine(engine: EngineProcess, launch: ProgramLaunch): Promise<number> {
  const channels = engine.channels as ProgramChannels;
  const notification = await engine.notification;
  if (!notification) {
    closeChannels(channels);
    return engine.exited;
  }
  let program;
  try {
    const env = programEnvironment(process.env, decodeNotification(notification), launch.keepTlsConfig, await launch.extraEnv);
    // prog shares these ends' open file descriptions: blocking, as pipes are.
    makeBlocking(channels.toProgram);
    makeBlocking(channels.fromProgram);
    program = startProgramWith(launch.argv, env, { [launch.rfd]: channels.toProgram, [launch.wfd]: channels.fromProgram });
  } finally {
    // prog has its own descriptors now; ours must not keep the channels open.
    closeChannels(channels);
  }
  return program.exited;
}
