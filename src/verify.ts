// Server identity and the words for what went wrong. OpenSSL and Node report
// failures as codes; users get a sentence they can act on (SPEC section 4).

import { checkServerIdentity, DetailedPeerCertificate, PeerCertificate } from 'tls';
import { oneLine } from './errors';
import type { ServerName } from './config';

/** The names a certificate is valid for, as a person would list them. */
export function certificateNames(cert: PeerCertificate): string[] {
  const names: string[] = [];
  for (const entry of (cert.subjectaltname ?? '').split(', ')) {
    const m = /^(DNS|IP Address):(.*)$/.exec(entry);
    if (m) names.push(m[2]);
  }
  if (names.length === 0 && cert.subject?.CN) names.push(...[cert.subject.CN].flat());
  return names;
}

export class HostnameMismatch extends Error {
  readonly code = 'HOSTNAME_MISMATCH';
}

/** A check of ours failed after OpenSSL's (pins, policy): its message is the whole story. */
export class VerificationFailure extends Error {
  readonly code = 'VERIFICATION_FAILURE';
}

/**
 * The name check Node runs after the chain is verified. Without -k there is
 * nothing to check (SPEC section 4); Node would otherwise check "localhost".
 * An IP literal is matched against the certificate's IP addresses only.
 */
export function identityChecker(servername: ServerName | undefined, extraCheck?: (cert: DetailedPeerCertificate) => Error | undefined) {
  // Node hands over getPeerCertificate(true): the leaf with its verified chain.
  return (_nodeHost: string, cert: PeerCertificate): Error | undefined => {
    const extra = extraCheck?.(cert as DetailedPeerCertificate);
    if (extra) return extra;
    if (!servername) return undefined;
    const wanted = servername.kind === 'dns' ? servername.name : servername.address;
    if (!checkServerIdentity(wanted, cert)) return undefined;
    const names = certificateNames(cert);
    const valid = names.length ? `certificate is valid for ${names.map(oneLine).join(', ')}` : 'certificate names no host';
    return new HostnameMismatch(`hostname mismatch: ${wanted}: ${valid}`);
  };
}

// OpenSSL's X509_V_ERR_* names, as Node reports them in err.code.
const verifyWords: Record<string, string> = {
  CERT_HAS_EXPIRED: 'certificate has expired',
  CERT_NOT_YET_VALID: 'certificate is not yet valid',
  UNABLE_TO_GET_ISSUER_CERT: 'certificate issuer is not trusted (unable to get issuer certificate)',
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: 'certificate issuer is not trusted (no trust anchor for it)',
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'certificate issuer is not trusted (unable to verify the first certificate)',
  SELF_SIGNED_CERT_IN_CHAIN: 'certificate chain ends at a self-signed certificate that is not a trust anchor',
  DEPTH_ZERO_SELF_SIGNED_CERT: 'certificate is self-signed and not a trust anchor',
  CERT_SIGNATURE_FAILURE: 'certificate signature is invalid',
  CERT_UNTRUSTED: 'certificate is not trusted',
  CERT_REJECTED: 'certificate is rejected by the trust anchors',
  CERT_REVOKED: 'certificate has been revoked',
  INVALID_CA: 'certificate chain contains an issuer that is not a CA',
  INVALID_PURPOSE: 'certificate is not valid for TLS server authentication',
  PATH_LENGTH_EXCEEDED: 'certificate chain is longer than a CA allows (path length constraint)',
  INVALID_EXTENSION: 'certificate has an invalid extension',
  UNHANDLED_CRITICAL_EXTENSION: 'certificate has an unknown critical extension',
  PERMITTED_SUBTREE_VIOLATION: 'certificate name is outside the issuer\'s permitted names (name constraints)',
  EXCLUDED_VIOLATION: 'certificate name is excluded by the issuer\'s name constraints',
  CERT_CHAIN_TOO_LONG: 'certificate chain is too long',
  ERROR_IN_CERT_NOT_BEFORE_FIELD: 'certificate has a malformed notBefore field',
  ERROR_IN_CERT_NOT_AFTER_FIELD: 'certificate has a malformed notAfter field',
  UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY: 'certificate issuer public key cannot be decoded',
  EE_KEY_TOO_SMALL: 'certificate key is too small',
  CA_KEY_TOO_SMALL: 'CA certificate key is too small',
  CA_MD_TOO_WEAK: 'certificate signature algorithm is too weak',
  HOSTNAME_MISMATCH: 'hostname mismatch',
  IP_ADDRESS_MISMATCH: 'IP address mismatch',
};

/** Words for a TLS failure, whatever layer raised it. */
export function describeTlsError(err: unknown, during: 'handshake' | 'session'): string {
  const e = err as (Error & { code?: string; reason?: string }) | undefined;
  if (!e || typeof e !== 'object') return oneLine(String(err));
  if (e instanceof HostnameMismatch || e instanceof VerificationFailure) return oneLine(e.message);
  const code = e.code ?? '';
  if (verifyWords[code]) return `certificate verification failed: ${verifyWords[code]}`;
  if (code === 'ECONNRESET' && /disconnected before secure TLS/.test(e.message)) {
    return `connection closed by the server during the ${during}`;
  }
  if (code === 'ECONNRESET') return `connection reset by the server during the ${during}`;
  if (code === 'EPIPE') return `connection closed by the server during the ${during} (Broken pipe)`;
  if (code === 'ERR_SSL_WRONG_VERSION_NUMBER' || code === 'ERR_SSL_PACKET_LENGTH_TOO_LONG' || code === 'ERR_SSL_RECORD_LAYER_FAILURE') {
    return `the server did not answer with TLS (${openSslReason(e)})`;
  }
  const alert = /alert (.+?)(?: \(|$|:)/.exec(e.reason ?? '') ?? /sslv3 alert (.+?)(:|$)/.exec(e.message);
  if (code.startsWith('ERR_SSL_') && /alert/i.test(e.reason ?? e.message)) {
    return `the server sent a fatal alert: ${alert ? alert[1] : openSslReason(e)}`;
  }
  if (code.startsWith('ERR_SSL_')) return `TLS protocol error: ${openSslReason(e)}`;
  return oneLine(e.message);
}

/** OpenSSL's reason string, without its "error:0A000102:SSL routines::" prefix. */
function openSslReason(e: Error & { reason?: string }): string {
  if (e.reason) return oneLine(e.reason);
  return oneLine(e.message.replace(/^.*?error:[0-9A-F]+:[^:]*:[^:]*:/, ''));
}
