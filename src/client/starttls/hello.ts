// The name SMTP's EHLO and LMTP's LHLO greet with. RFC 5321 4.1.4 asks
// for our fully qualified domain name or, without one, an address literal
// of our end of the connection; strict servers refuse a bare host name.
// Worked out without DNS: the host name if it has a dot, else its
// canonical name in /etc/hosts if that has one, else the literal.

import type { Socket } from 'net';
import { readFileSync } from 'fs';
import { hostname } from 'os';
import { isIPv4, isIPv6 } from 'net';

/** The canonical name /etc/hosts gives `name` (the first name of a line listing it), if any. */
export function hostsCanonicalName(name: string, hostsText: string): string | undefined {
  const wanted = name.toLowerCase();
  for (const line of hostsText.split('\n')) {
    const names = line.replace(/#.*/, '').trim().split(/\s+/).slice(1);
    if (names.some((n) => n.toLowerCase() === wanted) && names[0].includes('.')) return names[0];
  }
  return undefined;
}

/** `[192.0.2.1]` or `[IPv6:2001:db8::1]` (RFC 5321 4.1.3); an IPv4-mapped address as IPv4. */
export function addressLiteral(address: string): string | undefined {
  const mapped = /^::ffff:([0-9.]+)$/i.exec(address)?.[1];
  if (mapped && isIPv4(mapped)) return `[${mapped}]`;
  if (isIPv4(address)) return `[${address}]`;
  if (isIPv6(address)) return `[IPv6:${address.replace(/%.*$/, '')}]`;
  return undefined;
}

function readHosts(): string {
  try {
    return readFileSync('/etc/hosts', 'utf8');
  } catch {
    return '';
  }
}

/** Our FQDN if we know one without DNS, else the address literal of `socket`'s local end. */
export function defaultHelloName(socket: Socket, host = hostname(), hostsText: () => string = readHosts): string {
  const fqdn = (name: string | undefined): boolean => !!name && name.includes('.') && !name.startsWith('.') && !name.endsWith('.');
  if (fqdn(host)) return host;
  const canonical = host ? hostsCanonicalName(host, hostsText()) : undefined;
  if (canonical && fqdn(canonical)) return canonical;
  return (socket.localAddress && addressLiteral(socket.localAddress)) ?? (host || 'localhost');
}
