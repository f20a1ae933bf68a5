// s6-tlsclient's TCP side: resolve, then try each address in turn, each
// attempt bounded by the connect timeout.

import { lookup } from 'dns/promises';
import { connect as netConnect, isIP, Socket } from 'net';
import { EXIT_SYSTEM, FatalError, describeConnectError, describeResolverError } from './errors';

export interface ConnectOptions {
  /** 4 or 6 to restrict, 0 for both */
  family: 0 | 4 | 6;
  /** per attempt; 0: the system's own limit */
  timeoutMs: number;
  noDelay: boolean;
}

function attempt(address: string, port: number, opts: ConnectOptions): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = netConnect({ host: address, port, allowHalfOpen: true, noDelay: opts.noDelay });
    const timer =
      opts.timeoutMs > 0
        ? setTimeout(() => {
            socket.destroy();
            reject(Object.assign(new Error('connect timed out'), { code: 'ETIMEDOUT' }));
          }, opts.timeoutMs)
        : undefined;
    socket.once('connect', () => {
      if (timer) clearTimeout(timer);
      socket.removeAllListeners('error');
      resolve(socket);
    });
    socket.once('error', (err) => {
      if (timer) clearTimeout(timer);
      reject(err);
    });
  });
}

export async function connectTcp(host: string, port: number, opts: ConnectOptions): Promise<Socket> {
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
  let last: unknown;
  for (const { address } of addresses) {
    try {
      return await attempt(address, port, opts);
    } catch (err) {
      last = err;
    }
  }
  throw new FatalError(EXIT_SYSTEM, describeConnectError(host, port, last));
}
