// STARTTLS for s6-tlsclient --starttls=PROTO and the library: the
// protocol's cleartext prelude on a connected socket, after which TLS may
// start on it. Never falls back to cleartext: any refusal throws (exit 98).

import type { Socket } from 'net';
import { UsageError } from '../../base/errors';
import { Dialogue, refused } from './dialogue';
import { defaultHelloName } from './hello';
import { PRELUDES, PreludeContext } from './protocols';
import { startTimer } from '../../base/timer';

export type { PreludeContext } from './protocols';

export const STARTTLS_PROTOCOLS = Object.keys(PRELUDES);

/** Checks PROTO before anything is connected (usage error, 100). */
export function starttlsProtocol(name: string): string {
  const proto = name.toLowerCase();
  if (!(proto in PRELUDES)) throw new UsageError(`starttls must be one of ${STARTTLS_PROTOCOLS.join(', ')}`);
  return proto;
}

/**
 * Speaks `proto`'s prelude on `socket` up to the server's go-ahead; the
 * socket is then paused with nothing unread, ready for the TLS handshake.
 * `log` sees the dialogue, one "C: ..." or "S: ..." line each (the
 * server's words made safe by `quote`); without `ctx.helloName`, EHLO and
 * LHLO greet with our FQDN or our address literal (RFC 5321 4.1.4); past
 * `timeoutMs` (0: no limit) it fails.
 */
export async function startTls(
  socket: Socket,
  proto: string,
  ctx: PreludeContext,
  log: (line: string) => void = () => undefined,
  timeoutMs = 0,
): Promise<void> {
  const dialogue = new Dialogue(socket, starttlsProtocol(proto), log);
  // A server that says nothing must not hold us forever: -K bounds the
  // prelude as it bounds the handshake.
  const timer = timeoutMs > 0 ? startTimer(timeoutMs, () => dialogue.fail(refused(`${proto} server: no STARTTLS answer within ${timeoutMs} ms`))) : undefined;
  try {
    await PRELUDES[proto.toLowerCase()](dialogue, { ...ctx, helloName: ctx.helloName ?? defaultHelloName(socket) });
  } finally {
    timer?.cancel();
    dialogue.release();
  }
  dialogue.checkClean();
}
