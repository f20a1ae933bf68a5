// s6-tlsclient's TCP side, as s6-tcpclient does it: resolve, then try each
// address in turn with the first connection timeout, then again with the
// second, all within the global timeout; then the variables s6-tcpclient
// gives prog.

import { lookup, lookupService, Resolver } from 'dns/promises';
import { isIPv4 } from 'net';
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

export interface TcpEnvironmentOptions {
  /** false under -H: no name lookups */
  lookups: boolean;
  /** -h: the hosts database before DNS (the system resolver); else DNS only */
  hosts: boolean;
  /** -l */
  localName?: string;
}

/**
 * The name DNS keeps for `ip` (a PTR query): 1.0.0.127.in-addr.arpa, or an
 * ip6.arpa name of 32 nibbles. Asked as a plain query, since Node's reverse()
 * answers from /etc/hosts first, which only -h asks for.
 */
export function reverseName(ip: string): string {
  if (isIPv4(ip)) return `${ip.split('.').reverse().join('.')}.in-addr.arpa`;
  const v4mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  if (v4mapped) return reverseName(v4mapped[1]);
  const [head, tail = ''] = ip.split('::');
  const groups = (text: string): string[] => (text ? text.split(':') : []);
  const left = groups(head);
  const right = groups(tail);
  const all = ip.includes('::') ? [...left, ...Array(8 - left.length - right.length).fill('0'), ...right] : left;
  const nibbles = all.map((g) => g.padStart(4, '0')).join('').split('');
  return `${nibbles.reverse().join('.')}.ip6.arpa`;
}

/** The name of `ip`, or undefined when it has none: DNS only, unless `hosts` (-h) lets the system resolver read /etc/hosts first. */
export async function nameOf(ip: string, hosts: boolean, dns: Pick<Resolver, 'resolvePtr'> = new Resolver()): Promise<string | undefined> {
  try {
    if (hosts) {
      const { hostname } = await lookupService(ip, 0);
      return hostname && hostname !== ip ? hostname : undefined;
    }
    return (await dns.resolvePtr(reverseName(ip)))[0];
  } catch {
    return undefined;
  }
}

/** The variables s6-tcpclient sets; an undefined value means "unset". */
export async function tcpEnvironment(socket: Socket, opts: TcpEnvironmentOptions): Promise<Record<string, string | undefined>> {
  const remoteIp = socket.remoteAddress ?? '';
  const localIp = socket.localAddress ?? '';
  const [localName, remoteName] = await Promise.all([
    opts.localName ?? (opts.lookups ? nameOf(localIp, opts.hosts) : undefined),
    opts.lookups ? nameOf(remoteIp, opts.hosts) : undefined,
  ]);
  return {
    PROTO: 'TCP',
    TCPREMOTEIP: remoteIp,
    TCPREMOTEPORT: String(socket.remotePort ?? ''),
    TCPLOCALIP: localIp,
    TCPLOCALPORT: String(socket.localPort ?? ''),
    TCPLOCALHOST: localName,
    TCPREMOTEHOST: remoteName,
    // IDENT (-r) is not done; see s6-tlsclient's manual page.
    TCPREMOTEINFO: undefined,
  };
}
