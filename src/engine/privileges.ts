// Drops root to TLS_GID then TLS_UID, after every file has been read and
// before the first byte of the connection is processed (SPEC section 3).

import { EXIT_SYSTEM, FatalError, describeSystemError } from '../base/errors';

export function isRoot(): boolean {
  return typeof process.geteuid === 'function' && process.geteuid() === 0;
}

/** True when running as root with a TLS_UID/TLS_GID to drop to that changes who the program is. */
export function willDrop(drop: { uid: number; gid: number } | undefined): boolean {
  return !!drop && (drop.uid !== 0 || drop.gid !== 0);
}

/**
 * Supplementary groups first (root's would otherwise stay: wheel, shadow,
 * ...), then the gid, then the uid, which ends the right to change the
 * others. config.ts guarantees both ids are given.
 */
export function dropPrivileges(drop: { uid: number; gid: number } | undefined): void {
  if (!drop) return;
  try {
    process.setgroups?.([drop.gid]);
    process.setgid?.(drop.gid);
  } catch (err) {
    throw new FatalError(EXIT_SYSTEM, `unable to setgid to ${drop.gid}: ${describeSystemError(err)}`);
  }
  try {
    process.setuid?.(drop.uid);
  } catch (err) {
    throw new FatalError(EXIT_SYSTEM, `unable to setuid to ${drop.uid}: ${describeSystemError(err)}`);
  }
}
