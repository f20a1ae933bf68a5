// One error type for the whole program: a message and the exit code that
// SPEC section 7 assigns to its cause. Only the program entry points turn it
// into a "PROG: fatal: ..." line and an exit; library callers get it as a value.

export const EXIT_OK = 0;
export const EXIT_CONFIG = 96; // bad trust anchors, key or certificate
export const EXIT_ENGINE = 97; // the TLS client engine could not be set up
export const EXIT_TLS = 98; // handshake or session failure
export const EXIT_USAGE = 100; // bad option, number, operand or variable
export const EXIT_SYSTEM = 111; // a system call failed

export class FatalError extends Error {
  readonly exitCode: number;
  constructor(exitCode: number, message: string) {
    super(message);
    this.name = 'FatalError';
    this.exitCode = exitCode;
  }
}

/**
 * Wrong usage (exit 100). Structural errors print the usage line, as skarnet's
 * dieusage() does; a bad value or a missing variable prints a fatal line.
 */
export class UsageError extends FatalError {
  /** true: print as a fatal line; false: print the program's usage line */
  readonly asFatal: boolean;
  constructor(message: string, asFatal = false) {
    super(EXIT_USAGE, message);
    this.name = 'UsageError';
    this.asFatal = asFatal;
  }
}

// Node names system errors by their errno symbol; skarnet's messages use the
// C library's strerror() words. These are the ones a TLS client meets.
const strerrorWords: Record<string, string> = {
  ENOENT: 'No such file or directory',
  EACCES: 'Permission denied',
  EPERM: 'Operation not permitted',
  EISDIR: 'Is a directory',
  ENOTDIR: 'Not a directory',
  EBADF: 'Bad file descriptor',
  EPIPE: 'Broken pipe',
  ECONNRESET: 'Connection reset by peer',
  ECONNREFUSED: 'Connection refused',
  ETIMEDOUT: 'Connection timed out',
  ENOTCONN: 'Transport endpoint is not connected',
  ENOTSOCK: 'Socket operation on non-socket',
  EINVAL: 'Invalid argument',
  EIO: 'Input/output error',
  ELOOP: 'Too many levels of symbolic links',
  EMFILE: 'Too many open files',
  ENOMEM: 'Cannot allocate memory',
  ENOSPC: 'No space left on device',
  EFBIG: 'File too large',
  EAGAIN: 'Resource temporarily unavailable',
  E2BIG: 'Argument list too long',
};

/** strerror()-like words for a Node system error, else its message. */
export function describeSystemError(err: unknown): string {
  const e = err as NodeJS.ErrnoException | undefined;
  if (e && typeof e.code === 'string' && strerrorWords[e.code]) return strerrorWords[e.code];
  if (e && typeof e.code === 'string' && /^E[A-Z]+$/.test(e.code)) return e.code;
  return oneLine(e instanceof Error ? e.message : String(err));
}

export function isSystemError(err: unknown): boolean {
  const e = err as NodeJS.ErrnoException | undefined;
  return !!e && typeof e.code === 'string' && /^E[A-Z0-9]+$/.test(e.code) && typeof e.syscall === 'string';
}

/**
 * Messages must stay on one line whatever bytes a peer or a file put in
 * them, and read in the order written: C0 and C1 controls, DEL, the line and
 * paragraph separators and the bidirectional controls become spaces.
 */
export function oneLine(text: string): string {
  return text.replace(/[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]+/g, ' ').trim();
}
