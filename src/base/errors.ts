// One error type for the whole program: a message and the exit code that
// SPEC section 7 assigns to its cause. Only the program entry points turn it
// into a "PROG: fatal: ..." line and an exit; library callers get it as a value.

import { getSystemErrorMap } from 'util';

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
 * Wrong usage (exit 100). A wrong option, value or operand prints the usage
 * line, naming it first (SPEC section 8); an environment variable missing or
 * wrong prints a fatal line, as SPEC section 7's example does.
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
// C library's strerror() words. These are the ones a TLS client meets; any
// other errno gets libuv's words for it (close to the C library's).
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
  EHOSTUNREACH: 'No route to host',
  ENETUNREACH: 'Network is unreachable',
  EADDRNOTAVAIL: 'Cannot assign requested address',
  EAFNOSUPPORT: 'Address family not supported by protocol',
  ECONNABORTED: 'Software caused connection abort',
};

/** libuv's words for an errno name ("connection refused"), capitalized as strerror() does. */
function libuvWords(code: string): string | undefined {
  for (const [name, words] of getSystemErrorMap().values()) {
    if (name === code) return words.charAt(0).toUpperCase() + words.slice(1);
  }
  return undefined;
}

/** strerror()-like words for a Node system error, else its message. */
export function describeSystemError(err: unknown): string {
  const e = err as NodeJS.ErrnoException | undefined;
  const code = e && typeof e.code === 'string' ? e.code : undefined;
  if (code && strerrorWords[code]) return strerrorWords[code];
  if (code && resolverWords[code]) return resolverWords[code];
  const words = code ? libuvWords(code) : undefined;
  if (words) return words;
  if (code && /^E[A-Z]+$/.test(code)) return code;
  return oneLine(e instanceof Error ? e.message : String(err));
}

// getaddrinfo() failures, as Node reports them (ENOTFOUND stands for
// EAI_NONAME and EAI_NODATA), in words a user can act on.
const resolverWords: Record<string, string> = {
  ENOTFOUND: 'host not found',
  EAI_NONAME: 'host not found',
  EAI_NODATA: 'host has no address',
  EAI_AGAIN: 'temporary failure in name resolution',
  EAI_FAIL: 'name resolution failed (the name server gave a permanent error)',
  EAI_FAMILY: 'address family not supported',
  EAI_MEMORY: 'out of memory while resolving',
  EAI_SERVICE: 'service not supported',
  EAI_SOCKTYPE: 'socket type not supported',
  EAI_BADFLAGS: 'invalid resolver flags',
  EAI_OVERFLOW: 'resolver buffer overflow',
  EAI_SYSTEM: 'system error while resolving',
};

/** "host not found: nosuchhost"; `family` 4 or 6 when the lookup asked for that family only. */
export function describeResolverError(host: string, err: unknown, family: 0 | 4 | 6 = 0): string {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  const words = code && resolverWords[code] ? resolverWords[code] : describeSystemError(err);
  const only = family && (code === 'ENOTFOUND' || code === 'EAI_NODATA') ? ` (IPv${family} addresses only were asked for)` : '';
  return `${words}: ${host}${only}`;
}

/**
 * A TCP connection that could not be made, as s6-tlsclient says it: a name
 * that does not resolve in the resolver's words, else "unable to connect to
 * HOST port PORT: Connection refused".
 */
export function describeConnectError(host: string, port: number | undefined, err: unknown): string {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (code && resolverWords[code]) return describeResolverError(host, err);
  return `unable to connect to ${host}${port === undefined ? '' : ` port ${port}`}: ${describeSystemError(err)}`;
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
