// What every program entry shares: skarnet-style messages and the one place
// that turns an error into an exit code. No other module calls process.exit.

import { writeSync } from 'fs';
import { EXIT_OK, EXIT_SYSTEM, FatalError, UsageError, oneLine } from '../base/errors';
import { HelpRequested } from './options';
import { helpText, ProgramDoc } from './help';
import { startTimer } from '../base/timer';

export type { ProgramDoc } from './help';

export interface Messenger {
  warn(message: string): void;
  info(message: string): void;
  debug(message: string): void;
}

/** Once a fatal line is out, the program is ending: nothing more is said. */
let ending = false;

/** Writes all of `text` to `fd`, however many writes it takes. */
function writeAll(fd: number, text: string): void {
  const data = Buffer.from(text);
  for (let done = 0; done < data.length; ) done += writeSync(fd, data, done);
}

function writeStderr(line: string): void {
  if (ending) return;
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

/** The tunnel's log lines (src/engine/tunnel.ts LogLevel) through a messenger. */
export function tunnelLog(say: Messenger): (level: 'warning' | 'info' | 'debug', message: string) => void {
  return (level, message) => (level === 'warning' ? say.warn : level === 'info' ? say.info : say.debug)(message);
}

/** --help: the page on stdout, exit 0; a stdout that cannot take it is a system error. */
function printHelp(doc: ProgramDoc): number {
  try {
    writeAll(1, helpText(doc));
  } catch (err) {
    writeStderr(`${doc.name}: fatal: unable to write to stdout: ${oneLine(err instanceof Error ? err.message : String(err))}`);
    return EXIT_SYSTEM;
  }
  return EXIT_OK;
}

/** Says why the program ends (help, usage, fatal) and returns its exit code. */
function sayEnd(doc: ProgramDoc, err: unknown): number {
  const prog = doc.name;
  if (err instanceof HelpRequested) return printHelp(doc);
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
  ending = true;
  return err instanceof FatalError ? err.exitCode : EXIT_SYSTEM;
}

export function exitWith(doc: ProgramDoc, err: unknown): never {
  process.exit(sayEnd(doc, err));
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
  startTimer(LINGER_MS, () => process.exit(code), { holdsProcess: false });
}

const LINGER_MS = 500;

/** Runs a program's main function; any failure, even an unexpected one, ends as one fatal line. */
export function runProgram(doc: ProgramDoc, main: () => Promise<number>): void {
  const die = (err: unknown): never => exitWith(doc, err);
  process.on('uncaughtException', die);
  process.on('unhandledRejection', die);
  // Node exits 0 when nothing is left to wait for, even with main still
  // pending: a session nothing can end any more must not pass for a success.
  let settled = false;
  process.once('beforeExit', () => {
    if (!settled) die(new FatalError(EXIT_SYSTEM, 'internal error: the session stalled with nothing left to wait for'));
  });
  main().then(
    (code) => {
      settled = true;
      leave(code);
    },
    (err: unknown) => {
      settled = true;
      leave(sayEnd(doc, err));
    },
  );
}
