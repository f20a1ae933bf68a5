// STARTTLS for s6-tlsclient --starttls=PROTO and the library: the
// protocol's cleartext prelude on a connected socket, after which TLS may
// start on it. Never falls back to cleartext: any refusal throws (exit 98).

import type { Socket } from 'net';
import { UsageError } from '../errors';
import { Dialogue } from './dialogue';
import { PRELUDES, PreludeContext } from './protocols';

export type { PreludeContext } from './protocols';

export const STARTTLS_PROTOCOLS = Object.keys(PRELUDES);

/** Checks PROTO before anything is connected (usage error, 100). */
export function starttlsProtocol(name: string): string {
  const proto = name.toLowerCase();
  if (!(proto in PRELUDES)) throw new UsageError(`starttls must be one of ${STARTTLS_PROTOCOLS.join(', ')}`, true);
  return proto;
}

/**
 * Speaks `proto`'s prelude on `socket` up to the server's go-ahead; the
 * socket is then paused with nothing unread, ready for the TLS handshake.
 * `log` sees the dialogue, one "C: ..." or "S: ..." line each.
 */
export async function startTls(socket: Socket, proto: string, ctx: PreludeContext, log: (line: string) => void = () => undefined): Promise<void> {
  const dialogue = new Dialogue(socket, starttlsProtocol(proto), log);
  try {
    await PRELUDES[proto.toLowerCase()](dialogue, ctx);
  } finally {
    dialogue.release();
  }
  dialogue.checkClean();
}
