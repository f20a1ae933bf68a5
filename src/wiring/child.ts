// The program s6-tlsc, s6-tlsclient and s6-ucspitlsc start: socket pairs to
// the tunnel on its descriptors, our stdio, an environment with the connection
// report (or the UCSPI-TLS variables). Node cannot exec, so
// this process stays as the tunnel and the parent: it forwards signals and
// exits with the program's code.

import { spawn, ChildProcess, StdioOptions } from 'child_process';
import type { Socket } from 'net';
import { constants } from 'os';
import type { ConnectionReport } from '../engine/report';
import { environmentValue, REPORT_KEYS, reportEntries } from '../engine/report';
import type { Cleartext } from '../engine/tunnel';
import { EXIT_SYSTEM, FatalError, describeSystemError } from '../base/errors';

/** Variables the program does not see under -z (the default). */
export const TLS_CONFIG_VARIABLES = ['CADIR', 'CAFILE', 'KEYFILE', 'CERTFILE', 'TLS_UID', 'TLS_GID'];

/** Signals a supervisor sends that belong to the program. */
const FORWARDED: NodeJS.Signals[] = ['SIGHUP', 'SIGINT', 'SIGQUIT', 'SIGTERM', 'SIGUSR1', 'SIGUSR2', 'SIGALRM', 'SIGCONT', 'SIGWINCH'];

/** prog's environment before any report: under -z (keepTlsConfig false) without the TLS variables. */
export function programEnvironmentWithout(base: NodeJS.ProcessEnv, keepTlsConfig: boolean): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...base };
  if (keepTlsConfig) return env;
  for (const name of TLS_CONFIG_VARIABLES) delete env[name];
  // The server's key pairs by SNI name (s6-tlsd, s6-ucspitlsd).
  for (const name of Object.keys(env)) if (/^(KEYFILE|CERTFILE):/.test(name)) delete env[name];
  return env;
}

export function programEnvironment(
  base: NodeJS.ProcessEnv,
  report: ConnectionReport,
  keepTlsConfig: boolean,
  extra: Record<string, string> = {},
): NodeJS.ProcessEnv {
  const env = programEnvironmentWithout(base, keepTlsConfig);
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

/**
 * The engine's cleartext side on our ends of prog's two channels: we read
 * what prog writes to `fromProgram`, and write what prog reads to
 * `toProgram`. Both are our ends of socket pairs (spawn's 'pipe'), each used
 * in one direction, as a pipe would be. Half-open both ways: prog's EOF on
 * one channel must not end our output on the other, nor the reverse.
 */
export function socketCleartext(fromProgram: Socket, toProgram: Socket, names: { input: string; output: string }): Cleartext {
  fromProgram.allowHalfOpen = true;
  toProgram.allowHalfOpen = true;
  return {
    input: fromProgram,
    output: toProgram,
    // A shutdown of our write side: prog reads EOF, as from a closed pipe.
    // Node destroys a child's stdin when the child exits: ending what has
    // no reader any more loses nothing (prog had read all it wanted), and
    // must not fail the session while prog's last answer is still going out.
    endOutput: (done) => {
      if (toProgram.destroyed) return done();
      toProgram.end((err?: Error | null) => done(toProgram.destroyed && !toProgram.errored ? undefined : err));
    },
    inputName: names.input,
    outputName: names.output,
  };
}

/** A descriptor for prog: a new socket pair ('pipe'), one of ours, or a socket we hold. */
export type ProgramDescriptor = 'pipe' | number | Socket;

/**
 * Spawns prog with our stdio and the given descriptors; signals we get are
 * passed on, unless `forwardSignals` is false (a super-server, whose
 * signals mean something else, routes them itself).
 */
export function startProgramWith(
  argv: readonly string[],
  env: NodeJS.ProcessEnv,
  descriptors: Record<number, ProgramDescriptor>,
  forwardSignals = true,
): RunningProgram {
  // Our stdio unless told otherwise (s6-tlsd gives prog its channels as stdin and stdout).
  const stdio: StdioOptions = [0, 1, 2].map((fd) => descriptors[fd] ?? 'inherit');
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
  if (forwardSignals) for (const sig of FORWARDED) process.on(sig, forward);
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
