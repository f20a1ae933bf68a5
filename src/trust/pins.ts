// --pin: the leaf certificate's SHA-256 (the SSL_PEER_CERT_HASH form) must be
// one of the given ones. Checked after OpenSSL's verification, and on its own
// under --no-verify-cert.

import { createHash } from 'crypto';
import type { DetailedPeerCertificate } from 'tls';
import { VerificationFailure } from './verify';

export function pinCheck(pins: readonly string[]): (cert: DetailedPeerCertificate) => Error | undefined {
  const accepted = new Set(pins);
  return (cert) => {
    const raw: Buffer | undefined = cert?.raw;
    if (!raw) return new VerificationFailure('certificate pin mismatch: the server sent no certificate');
    const seen = createHash('sha256').update(raw).digest('hex');
    if (accepted.has(seen)) return undefined;
    return new VerificationFailure(`certificate pin mismatch: the server's certificate is SHA256:${seen}`);
  };
}
