// The program s6-tlsc, s6-tlsclient and s6-ucspitlsc start: pipes to the
// tunnel on its descriptors, our stdio, an environment with the connection
// report (or the UCSPI-TLS variables). Node cannot exec, so
// this process stays as the tunnel and the parent: it forwards signals and
// exits with the program's code.

import { execFileSync, spawn, ChildProcess, StdioOptions } from 'child_process';
import { closeSync, existsSync, mkdtempSync, openSync, rmdirSync, unlinkSync } from 'fs';
import { constants, tmpdir } from 'os';
import { join } from 'path';
import { finishWritable, inspectFd, openReadable, openWritable } from './fds';
import type { ConnectionReport } from './report';
import { environmentValue, REPORT_KEYS, reportEntries } from './report';
import type { Cleartext } from './tunnel';
import { EXIT_SYSTEM, FatalError, describeSystemError } from './errors';

/** Variables the program does not see under -z (the default). */
export const TLS_CONFIG_VARIABLES = ['CADIR', 'CAFILE', 'KEYFILE', 'CERTFILE', 'TLS_UID', 'TLS_GID'];

/** Signals a supervisor sends that belong to the program. */
const FORWARDED: NodeJS.Signals[] = ['SIGHUP', 'SIGINT', 'SIGQUIT', 'SIGTERM', 'SIGUSR1', 'SIGUSR2', 'SIGALRM', 'SIGCONT', 'SIGWINCH'];

export function programEnvironment(
  base: NodeJS.ProcessEnv,
  report: ConnectionReport,
  keepTlsConfig: boolean,
  extra: Record<string, string> = {},
): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...base };
  if (!keepTlsConfig) for (const name of TLS_CONFIG_VARIABLES) delete env[name];
  // As the C wrapper does with the notification: KEY=value sets, a bare KEY
  // unsets, and so does a key the report leaves out (no ALPN agreed).
  for (const key of REPORT_KEYS) delete env[key];
  for (const [key, value] of reportEntries(report)) {
    if (value) env[key] = environmentValue(key, value.replace(/\0/g, ''));
  }
  return { ...env, ...extra };
}

export interface RunningProgram {
  child: ChildProcess;
  /** the exit code to pass on: the program's, or 128 + signal */
  exited: Promise<number>;
}

/** Both ends of one pipe, as blocking descriptors that no Node stream owns yet. */
export interface PipeEnds {
  read: number;
  write: number;
}

/**
 * `count` pipes, the kind of descriptor the C tools give prog. Node has no
 * pipe(2): spawn's 'pipe' is a socket pair. A FIFO opened end by end gives
 * the two open file descriptions of a pipe (prog's stays blocking when ours
 * becomes a non-blocking libuv stream); one `mkfifo` run makes them all,
 * and the names are unlinked before anyone else can open them (mode 600 in
 * a mode 700 directory). Synchronous: a spawn blocks this thread until the
 * child has exec'd anyway, and callers run it where the wait overlaps the
 * server's (see runWithProgram).
 */
// Where coreutils puts it, so that no PATH search is paid per connection.
const MKFIFO = ['/usr/bin/mkfifo', '/bin/mkfifo'].find((p) => existsSync(p)) ?? 'mkfifo';

export function makePipes(count: number): PipeEnds[] {
  const dir = mkdtempSync(join(tmpdir(), 's6-tlsc-'));
  try {
    const paths = Array.from({ length: count }, (_, i) => join(dir, `p${i}`));
    execFileSync(MKFIFO, ['-m', '600', ...paths], { stdio: 'ignore' });
    return paths.map((path) => {
      // O_RDWR first, so that neither single-direction open blocks.
      const both = openSync(path, 'r+');
      const read = openSync(path, 'r');
      const write = openSync(path, 'w');
      closeSync(both);
      return { read, write };
    });
  } catch (err) {
    const status = (err as { status?: number | null }).status;
    throw new FatalError(EXIT_SYSTEM, `unable to create pipes: ${typeof status === 'number' ? `mkfifo exited with ${status}` : describeSystemError(err)}`);
  } finally {
    // By hand: rmSync's recursive walk loads a module of its own, per connection.
    for (let i = 0; i < count; i++) {
      try {
        unlinkSync(join(dir, `p${i}`));
      } catch {
        // not made
      }
    }
    rmdirSync(dir);
  }
}

/**
 * Closes pipe ends of ours, each once: a closed end is marked -1, as its
 * number may soon name another descriptor.
 */
export function closeEnds(...ends: [PipeEnds, 'read' | 'write'][]): void {
  for (const [pipe, side] of ends) {
    if (pipe[side] < 0) continue;
    try {
      closeSync(pipe[side]);
    } catch {
      // already gone: nothing to release
    }
    pipe[side] = -1;
  }
}

/**
 * The engine's cleartext side on our ends of prog's two pipes: we read what
 * prog writes to `progWrites`, and write what prog reads from `progReads`.
 */
export function pipeCleartext(fromProgram: number, toProgram: number, names: { input: string; output: string }): Cleartext {
  const inputInfo = inspectFd(fromProgram, names.input);
  const outputInfo = inspectFd(toProgram, names.output);
  const output = openWritable(outputInfo);
  return {
    input: openReadable(inputInfo),
    output,
    endOutput: (done) => finishWritable(output, outputInfo, done),
    inputName: names.input,
    outputName: names.output,
  };
}

/** Spawns prog with our stdio and the given descriptors; signals we get are passed on. */
export function startProgramWith(
  argv: readonly string[],
  env: NodeJS.ProcessEnv,
  descriptors: Record<number, 'pipe' | number>,
): RunningProgram {
  const stdio: StdioOptions = ['inherit', 'inherit', 'inherit'];
  const top = Math.max(...Object.keys(descriptors).map(Number));
  for (let fd = 3; fd <= top; fd++) stdio.push(descriptors[fd] ?? 'ignore');
  // The handlers go in before the spawn: prog may run, speak, and have its
  // supervisor signal us before spawn() even returns here; a signal then
  // must reach prog, not end us with the default action and orphan it.
  // (Handlers run later, from the event loop, when `child` is set.)
  let child: ChildProcess | undefined;
  const forward = (sig: NodeJS.Signals): void => {
    child?.kill(sig);
  };
  const stopForwarding = (): void => {
    for (const sig of FORWARDED) process.removeListener(sig, forward);
  };
  for (const sig of FORWARDED) process.on(sig, forward);
  try {
    child = spawn(argv[0], argv.slice(1), { stdio, env });
  } catch (err) {
    stopForwarding();
    throw new FatalError(EXIT_SYSTEM, `unable to spawn ${argv[0]}: ${describeSystemError(err)}`);
  }
  const spawned = child;
  const exited = new Promise<number>((resolve, reject) => {
    spawned.once('error', (err) => {
      stopForwarding();
      reject(new FatalError(EXIT_SYSTEM, `unable to spawn ${argv[0]}: ${describeSystemError(err)}`));
    });
    spawned.once('exit', (code, signal) => {
      stopForwarding();
      resolve(code ?? 128 + (signal ? constants.signals[signal] : 0));
    });
  });
  return { child: spawned, exited };
}
