// The connection report: what -d writes (SPEC section 5) and what a wrapper
// turns into environment variables.

import { createHash } from 'crypto';
import type { TLSSocket } from 'tls';

export interface ConnectionReport {
  protocol: string;
  cipher: string;
  /** the SNI sent, if any */
  servername?: string;
  /** "SHA256:" and 64 lowercase hex digits of the leaf's DER, if the server sent one */
  peerCertHash?: string;
  peerCertSubject?: string;
  alpnProtocol?: string;
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
    peerCertSubject: subject ? subject.split('\n').join(', ') : undefined,
    alpnProtocol: typeof socket.alpnProtocol === 'string' ? socket.alpnProtocol : undefined,
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
  };
}
