// s6-tlsclient's TCP side, as s6-tcpclient does it: resolve, then try each
// address in turn with the first connection timeout, then again with the
// second, all within the global timeout. The variables prog gets are made
// in src/wiring/tcp-environment.ts, which the server shares.

import { lookup } from 'dns/promises';
import { connect as netConnect, isIP, Socket } from 'net';
import { EXIT_SYSTEM, FatalError, describeConnectError, describeResolverError } from '../base/errors';
import { startTimer } from '../base/timer';

export interface ConnectOptions {
  /** 4 or 6 to restrict, 0 for both */
  family: 0 | 4 | 6;
  /** -t: the whole connection attempt, in milliseconds; 0: no limit */
  timeoutMs: number;
  /** -T x+y: each address is tried with x seconds, then (if y) again with y; milliseconds here */
  attemptTimeoutsMs?: [number, number];
  noDelay: boolean;
  /** -i */
  localAddress?: string;
  /** -p */
  localPort?: number;
}

/** s6-tcpclient's default -T 2+58. */
export const DEFAULT_ATTEMPT_TIMEOUTS_MS: [number, number] = [2000, 58000];

function attempt(address: string, port: number, opts: ConnectOptions, timeoutMs: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = netConnect({
      host: address,
      port,
      allowHalfOpen: true,
      noDelay: opts.noDelay,
      localAddress: opts.localAddress,
      localPort: opts.localPort || undefined,
    });
    const timer =
      timeoutMs > 0
        ? startTimer(timeoutMs, () => {
            socket.destroy();
            reject(Object.assign(new Error('connect timed out'), { code: 'ETIMEDOUT' }));
          })
        : undefined;
    socket.once('connect', () => {
      timer?.cancel();
      socket.removeAllListeners('error');
      resolve(socket);
    });
    socket.once('error', (err) => {
      timer?.cancel();
      reject(err);
    });
  });
}

export async function connectTcp(host: string, port: number, opts: ConnectOptions): Promise<Socket> {
  const deadline = opts.timeoutMs > 0 ? Date.now() + opts.timeoutMs : Infinity;
  let addresses: { address: string; family: number }[];
  const literal = isIP(host);
  if (literal) {
    if (opts.family && opts.family !== literal) throw new FatalError(EXIT_SYSTEM, `${host} is not an IPv${opts.family} address`);
    addresses = [{ address: host, family: literal }];
  } else {
    try {
      addresses = await lookup(host, { all: true, family: opts.family, verbatim: true });
    } catch (err) {
      throw new FatalError(EXIT_SYSTEM, describeResolverError(host, err, opts.family));
    }
  }
  let [first, second] = opts.attemptTimeoutsMs ?? DEFAULT_ATTEMPT_TIMEOUTS_MS;
  // One address gets both timeouts in one attempt, as in s6-tcpclient.
  if (addresses.length === 1) [first, second] = [first + second, 0];
  let last: unknown;
  for (const [pass, limit] of [[0, first], [1, second]] as const) {
    if (pass === 1 && limit === 0) break;
    for (const { address } of addresses) {
      const left = deadline - Date.now();
      if (left <= 0) break;
      try {
        // 0 for x or y means no limit of its own, only the global one.
        const timeout = Math.min(limit > 0 ? limit : Infinity, left);
        return await attempt(address, port, opts, Number.isFinite(timeout) ? timeout : 0);
      } catch (err) {
        last = err;
      }
    }
  }
  if (last === undefined) last = Object.assign(new Error('connect timed out'), { code: 'ETIMEDOUT' });
  throw new FatalError(EXIT_SYSTEM, describeConnectError(host, port, last));
}
