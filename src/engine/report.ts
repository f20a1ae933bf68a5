// The connection report: what -d writes (SPEC section 5) and what a wrapper
// turns into environment variables.

import { createHash } from 'crypto';
import type { TLSSocket } from 'tls';
import { EXIT_SYSTEM, FatalError } from '../base/errors';

export interface ConnectionReport {
  protocol: string;
  cipher: string;
  /** the SNI sent, if any */
  servername?: string;
  /** "SHA256:" and 64 lowercase hex digits of the leaf's DER, if the server sent one */
  peerCertHash?: string;
  peerCertSubject?: string;
  alpnProtocol?: string;
  /** the key exchange group agreed (X25519MLKEM768, X25519, secp256r1...), where Node can tell */
  kexGroup?: string;
}

/** Every key a report may carry: a wrapper unsets those a report leaves out. */
export const REPORT_KEYS = [
  'SSL_PROTOCOL',
  'SSL_CIPHER',
  'SSL_TLS_SNI_SERVERNAME',
  'SSL_PEER_CERT_HASH',
  'SSL_PEER_CERT_SUBJECT',
  'SSL_ALPN_PROTOCOL',
  'SSL_KEX_GROUP',
] as const;

/*
 * Node renders a subject with OpenSSL's RFC 2253 escaping: C0 controls and
 * DEL as "\XX", a backslash as "\\", but every other character as raw
 * UTF-8. A peer's name must not be able to move a terminal's cursor or turn
 * the text around where it is shown (a C1 CSI, U+202E), nor end a line
 * (U+2028, U+2029): those are escaped the same way, "\XX" below U+0100 and
 * "\UXXXX" above, as OpenSSL does for characters it escapes.
 */
const UNSAFE_CHARACTERS = /[\u0080-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

export function escapeUnsafe(text: string): string {
  return text.replace(UNSAFE_CHARACTERS, (c) => {
    const code = c.charCodeAt(0);
    return code < 0x100 ? `\\${code.toString(16).toUpperCase().padStart(2, '0')}` : `\\U${code.toString(16).toUpperCase().padStart(4, '0')}`;
  });
}

/**
 * The group as OpenSSL 3.5 names it in `openssl s_client`'s "Negotiated
 * group" (the TLS registry's names); Node 20 gives the curve's NID name for
 * P-256. A finite-field DH exchange before TLS 1.3 has no group name Node
 * can tell (only its size): no key then.
 */
function kexGroupOf(socket: TLSSocket): string | undefined {
  const info = socket.getEphemeralKeyInfo() as { type?: string; name?: string } | null;
  const name = info && typeof info.name === 'string' && info.name !== '' ? info.name : undefined;
  if (!name) return undefined;
  return name === 'prime256v1' ? 'secp256r1' : name;
}

export function connectionReport(socket: TLSSocket, servername: string | undefined): ConnectionReport {
  const cert = socket.getPeerCertificate(false);
  const raw: Buffer | undefined = cert && cert.raw;
  const subject = socket.getPeerX509Certificate()?.subject;
  return {
    protocol: socket.getProtocol() ?? '',
    cipher: socket.getCipher()?.name ?? '',
    servername,
    peerCertHash: raw ? `SHA256:${createHash('sha256').update(raw).digest('hex')}` : undefined,
    // Node gives one RDN per line, in certificate order; the C tools join them with ", ".
    peerCertSubject: subject ? escapeUnsafe(subject.split('\n').join(', ')) : undefined,
    alpnProtocol: typeof socket.alpnProtocol === 'string' ? socket.alpnProtocol : undefined,
    kexGroup: kexGroupOf(socket),
  };
}

/** KEY=value pairs in SPEC order; an unknown or empty value leaves the key bare. */
export function reportEntries(report: ConnectionReport): [string, string | undefined][] {
  const entries: [string, string | undefined][] = [
    ['SSL_PROTOCOL', report.protocol],
    ['SSL_CIPHER', report.cipher],
    ['SSL_TLS_SNI_SERVERNAME', report.servername],
    ['SSL_PEER_CERT_HASH', report.peerCertHash],
    ['SSL_PEER_CERT_SUBJECT', report.peerCertSubject],
  ];
  if (report.alpnProtocol) entries.push(['SSL_ALPN_PROTOCOL', report.alpnProtocol]);
  if (report.kexGroup) entries.push(['SSL_KEX_GROUP', report.kexGroup]);
  return entries;
}

/** NUL-terminated strings and one more NUL. A NUL inside a value (hostile peer) is dropped. */
export function encodeNotification(report: ConnectionReport): Buffer {
  let text = '';
  for (const [key, value] of reportEntries(report)) {
    const clean = value?.replace(/\0/g, '');
    text += clean ? `${key}=${clean}\0` : `${key}\0`;
  }
  return Buffer.from(text + '\0', 'utf8');
}

/** The report back from notification bytes (what a wrapper reads from -d). */
export function decodeNotification(data: Buffer): ConnectionReport {
  const fields = new Map<string, string>();
  for (const entry of data.toString('utf8').split('\0')) {
    const eq = entry.indexOf('=');
    if (eq > 0) fields.set(entry.slice(0, eq), entry.slice(eq + 1));
  }
  return {
    protocol: fields.get('SSL_PROTOCOL') ?? '',
    cipher: fields.get('SSL_CIPHER') ?? '',
    servername: fields.get('SSL_TLS_SNI_SERVERNAME'),
    peerCertHash: fields.get('SSL_PEER_CERT_HASH'),
    peerCertSubject: fields.get('SSL_PEER_CERT_SUBJECT'),
    alpnProtocol: fields.get('SSL_ALPN_PROTOCOL'),
    kexGroup: fields.get('SSL_KEX_GROUP'),
  };
}

/** Linux's MAX_ARG_STRLEN: one "KEY=value" string of an environment, its NUL included. */
export const MAX_ENVIRONMENT_STRING = 32 * 4096;

/** `value`, when KEY=value fits in an environment; else the error exec would give, in words. */
export function environmentValue(key: string, value: string): string {
  const size = Buffer.byteLength(`${key}=${value}`) + 1;
  if (size <= MAX_ENVIRONMENT_STRING) return value;
  throw new FatalError(
    EXIT_SYSTEM,
    `the connection report does not fit in the program's environment: ${key} would be ${size} bytes, more than the ${MAX_ENVIRONMENT_STRING} the system allows for one variable`,
  );
}
