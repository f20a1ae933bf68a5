// The TCP variables prog gets (PROTO, TCPREMOTEIP, ...; TCPREMOTEHOST and
// TCPLOCALHOST by name lookups unless -H), as s6-tcpclient and
// s6-tcpserver-access set them: shared by s6-tlsclient and s6-tlsserver.

import { lookupService, Resolver } from 'dns/promises';
import { isIPv4, Socket } from 'net';

export interface TcpEnvironmentOptions {
  /** false under -H: no name lookups */
  lookups: boolean;
  /** -h: the hosts database before DNS (the system resolver); else DNS only */
  hosts: boolean;
  /** -l */
  localName?: string;
  /** -t: how long a DNS query may take, in milliseconds (absent or 0: the resolver's own) */
  timeoutMs?: number;
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

/** The two ends of a TCP connection, as the socket (or a PROXY header) tells them. */
export interface TcpEnds {
  remoteIp: string;
  remotePort: number;
  localIp: string;
  localPort: number;
}

/** Node writes an IPv4 client of a dual-stack socket as ::ffff:a.b.c.d; the C tools write a.b.c.d. */
export function plainIp(ip: string): string {
  const v4mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  return v4mapped ? v4mapped[1] : ip;
}

export function endsOf(socket: Socket): TcpEnds {
  return {
    remoteIp: plainIp(socket.remoteAddress ?? ''),
    remotePort: socket.remotePort ?? 0,
    localIp: plainIp(socket.localAddress ?? ''),
    localPort: socket.localPort ?? 0,
  };
}

/** The variables s6-tcpclient and s6-tcpserver-access set; an undefined value means "unset". */
export async function tcpVariables(ends: TcpEnds, opts: TcpEnvironmentOptions): Promise<Record<string, string | undefined>> {
  const dns = opts.timeoutMs ? new Resolver({ timeout: opts.timeoutMs, tries: 1 }) : undefined;
  const [localName, remoteName] = await Promise.all([
    opts.localName ?? (opts.lookups ? nameOf(ends.localIp, opts.hosts, dns) : undefined),
    opts.lookups ? nameOf(ends.remoteIp, opts.hosts, dns) : undefined,
  ]);
  return {
    PROTO: 'TCP',
    TCPREMOTEIP: ends.remoteIp,
    TCPREMOTEPORT: String(ends.remotePort),
    TCPLOCALIP: ends.localIp,
    TCPLOCALPORT: String(ends.localPort),
    TCPLOCALHOST: localName,
    TCPREMOTEHOST: remoteName,
    // IDENT (-r) is not done; see the manual pages.
    TCPREMOTEINFO: undefined,
  };
}

/** s6-tlsclient's: the ends of its own connection. */
export function tcpEnvironment(socket: Socket, opts: TcpEnvironmentOptions): Promise<Record<string, string | undefined>> {
  return tcpVariables(
    { remoteIp: socket.remoteAddress ?? '', remotePort: socket.remotePort ?? 0, localIp: socket.localAddress ?? '', localPort: socket.localPort ?? 0 },
    opts,
  );
}
