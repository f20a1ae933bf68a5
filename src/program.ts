// What every program entry shares: skarnet-style messages and the one place
// that turns an error into an exit code. No other module calls process.exit.

import { writeSync } from 'fs';
import { EXIT_OK, EXIT_SYSTEM, FatalError, UsageError, oneLine } from './errors';
import { HelpRequested } from './options';
import { helpText, ProgramDoc } from './help';

export type { ProgramDoc } from './help';

export interface Messenger {
  warn(message: string): void;
  info(message: string): void;
  debug(message: string): void;
}

/** Writes all of `text` to `fd`, however many writes it takes. */
function writeAll(fd: number, text: string): void {
  const data = Buffer.from(text);
  for (let done = 0; done < data.length; ) done += writeSync(fd, data, done);
}

function writeStderr(line: string): void {
  try {
    writeAll(2, line + '\n');
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

/** --help: the page on stdout, exit 0; a stdout that cannot take it is a system error. */
function printHelp(doc: ProgramDoc): never {
  try {
    writeAll(1, helpText(doc));
  } catch (err) {
    writeStderr(`${doc.name}: fatal: unable to write to stdout: ${oneLine(err instanceof Error ? err.message : String(err))}`);
    process.exit(EXIT_SYSTEM);
  }
  process.exit(EXIT_OK);
}

export function exitWith(doc: ProgramDoc, err: unknown): never {
  const prog = doc.name;
  if (err instanceof HelpRequested) printHelp(doc);
  if (err instanceof UsageError && !err.asFatal) {
    // The culprit first, then the synopsis: one line, as skarnet's dieusage() but saying what was wrong.
    writeStderr(`${prog}: usage: ${oneLine(err.message)}: ${doc.synopsis}`);
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
export function runProgram(doc: ProgramDoc, main: () => Promise<number>): void {
  const die = (err: unknown): never => exitWith(doc, err);
  process.on('uncaughtException', die);
  process.on('unhandledRejection', die);
  main().then((code) => process.exit(code), die);
}
