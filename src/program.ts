// What every program entry shares: skarnet-style messages and the one place
// that turns an error into an exit code. No other module calls process.exit.

import { writeSync } from 'fs';
import { EXIT_SYSTEM, FatalError, UsageError, oneLine } from './errors';

export interface Messenger {
  warn(message: string): void;
  info(message: string): void;
  debug(message: string): void;
}

/** Once a fatal line is out, the program is ending: nothing more is said. */
let ending = false;

function writeStderr(line: string): void {
  if (ending) return;
  try {
    writeSync(2, line + '\n');
  } catch {
    // stderr is gone: nothing else can be said
  }
}

export function messenger(prog: string, verbosity: number): Messenger {
  return {
    warn: (m) => verbosity >= 1 && writeStderr(`${prog}: warning: ${oneLine(m)}`),
    info: (m) => verbosity >= 2 && writeStderr(`${prog}: info: ${oneLine(m)}`),
    debug: (m) => verbosity >= 3 && writeStderr(`${prog}: debug: ${oneLine(m)}`),
  };
}

function sayFatal(prog: string, usage: string, err: unknown): number {
  if (err instanceof UsageError && !err.asFatal) {
    writeStderr(`${prog}: usage: ${usage}`);
  } else if (err instanceof FatalError) {
    writeStderr(`${prog}: fatal: ${oneLine(err.message)}`);
  } else {
    // A bug or an unexpected failure: still one line, never a stack trace.
    const text = err instanceof Error ? err.message : String(err);
    writeStderr(`${prog}: fatal: ${oneLine(text)}`);
  }
  ending = true;
  return err instanceof FatalError ? err.exitCode : EXIT_SYSTEM;
}

export function exitWith(prog: string, usage: string, err: unknown): never {
  process.exit(sayFatal(prog, usage, err));
}

/**
 * How a program that ran to its end leaves: with its code, by letting the
 * event loop run dry (everything it opened is closed by then). Not
 * process.exit(): on Node 26 it shuts V8's worker threads down without
 * disposing the isolate first, and a background compile job that waits for
 * a garbage collection then waits forever (seen: 1 exit in 8 right after a
 * bulk transfer hung in pthread_join). A normal end disposes the isolate,
 * which releases such a job. If anything still holds the loop (work a
 * failure interrupted), the timer, which does not, ends the process anyway.
 */
function leave(code: number): void {
  process.exitCode = code;
  setTimeout(() => process.exit(code), LINGER_MS).unref();
}

const LINGER_MS = 500;

/** Runs a program's main function; any failure, even an unexpected one, ends as one fatal line. */
export function runProgram(prog: string, usage: string, main: () => Promise<number>): void {
  const die = (err: unknown): never => exitWith(prog, usage, err);
  process.on('uncaughtException', die);
  process.on('unhandledRejection', die);
  main().then(leave, (err: unknown) => leave(sayFatal(prog, usage, err)));
}
