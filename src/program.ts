// What every program entry shares: skarnet-style messages and the one place
// that turns an error into an exit code. No other module calls process.exit.

import { writeSync } from 'fs';
import { EXIT_SYSTEM, FatalError, UsageError, oneLine } from './errors';

export interface Messenger {
  warn(message: string): void;
  info(message: string): void;
  debug(message: string): void;
}

function writeStderr(line: string): void {
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

export function exitWith(prog: string, usage: string, err: unknown): never {
  if (err instanceof UsageError && !err.asFatal) {
    writeStderr(`${prog}: usage: ${usage}`);
  } else if (err instanceof FatalError) {
    writeStderr(`${prog}: fatal: ${oneLine(err.message)}`);
  } else {
    // A bug or an unexpected failure: still one line, never a stack trace.
    const text = err instanceof Error ? err.message : String(err);
    writeStderr(`${prog}: fatal: ${oneLine(text)}`);
  }
  process.exit(err instanceof FatalError ? err.exitCode : EXIT_SYSTEM);
}

/** Runs a program's main function; any failure, even an unexpected one, ends as one fatal line. */
export function runProgram(prog: string, usage: string, main: () => Promise<number>): void {
  const die = (err: unknown): never => exitWith(prog, usage, err);
  process.on('uncaughtException', die);
  process.on('unhandledRejection', die);
  main().then((code) => process.exit(code), die);
}
