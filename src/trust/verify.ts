// Server identity and the words for what went wrong. OpenSSL and Node report
// failures as codes; users get a sentence they can act on (SPEC section 4).

import { DetailedPeerCertificate, PeerCertificate } from 'tls';
import { oneLine } from '../base/errors';
import type { ServerName } from '../cli/config';
import { checkChain, checkName, NameMismatch } from './policy';
import type { TrustAnchors } from './anchors';

export class HostnameMismatch extends Error {
  readonly code = 'HOSTNAME_MISMATCH';
}

/** A check of ours failed after OpenSSL's (pins, policy): its message is the whole story. */
export class VerificationFailure extends Error {
  readonly code = 'VERIFICATION_FAILURE';
}

/**
 * The check Node runs after OpenSSL verified the chain, on the leaf with that
 * chain. First the path and the minimums OpenSSL's @SECLEVEL=0 lifts (key
 * sizes, signature hashes: src/trust/path.ts, src/trust/policy.ts), then any extra check (pins), then the
 * name. Without -k there is no name to check (SPEC section 4); Node would
 * otherwise check "localhost". The name rules are ours (RFC 9525, CA/B
 * Forum), not Node's, which fall back to the CN and accept partial
 * wildcards. An IP literal is matched against the certificate's IP
 * addresses only, octet for octet.
 */
export function identityChecker(
  servername: ServerName | undefined,
  anchors: TrustAnchors,
  extraCheck?: (cert: DetailedPeerCertificate) => Error | undefined,
) {
  // Node hands over getPeerCertificate(true): the leaf with the chain Node
  // rebuilt, which src/trust/path.ts checks is a real path to one of `anchors`.
  let accepted: Buffer | undefined;
  return (_nodeHost: string, cert: PeerCertificate): Error | undefined => {
    // Node runs this again when the server asks for a renegotiation (which
    // is refused), with no certificate: the session and its peer are the
    // ones already accepted. A certificate there must be the same one.
    if (accepted && (!cert.raw || cert.raw.equals(accepted))) return undefined;
    let error: Error | undefined;
    try {
      error = checkIdentity(cert);
    } catch (err) {
      // Node would turn a throw here into an uncaught exception: fail the handshake instead.
      error = new VerificationFailure(`certificate verification failed: ${oneLine(err instanceof Error ? err.message : String(err))}`);
    }
    if (!error && cert.raw) accepted = cert.raw;
    return error;
  };

  function checkIdentity(cert: PeerCertificate): Error | undefined {
    const weak = checkChain(cert, anchors);
    if (weak) return new VerificationFailure(weak.message);
    const extra = extraCheck?.(cert as DetailedPeerCertificate);
    if (extra) return extra;
    if (!servername) return undefined;
    if (!cert.raw) return new VerificationFailure('certificate verification failed: the server sent no certificate');
    const mismatch = checkName(servername, cert.raw);
    if (!mismatch) return undefined;
    return mismatch instanceof NameMismatch ? new HostnameMismatch(mismatch.message) : new VerificationFailure(mismatch.message);
  }
}

const UNKNOWN_ISSUER = 'certificate issuer is unknown: not a trust anchor, and not sent by the server (missing intermediate certificate?)';
const NOT_SERVER_PURPOSE =
  'certificate chain is not valid for TLS server authentication (an extended key usage without serverAuth, or an issuer that is not a CA)';
const NO_CERT_SIGN = "an issuer's key usage does not allow signing certificates (keyCertSign missing)";
const PERMITTED = "certificate name is outside the issuer's permitted names (name constraints)";
const EXCLUDED = "certificate name is excluded by the issuer's name constraints";
const CRITICAL = 'certificate has an unknown critical extension';

// OpenSSL's X509_V_ERR_* names, as Node reports them in err.code.
const verifyWords: Record<string, string> = {
  CERT_HAS_EXPIRED: 'certificate has expired',
  CERT_NOT_YET_VALID: 'certificate is not yet valid',
  UNABLE_TO_GET_ISSUER_CERT: 'certificate issuer is not trusted (unable to get issuer certificate)',
  // Both mean: no certificate sent or trusted signed this one (the second when it is the leaf).
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: UNKNOWN_ISSUER,
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: UNKNOWN_ISSUER,
  SELF_SIGNED_CERT_IN_CHAIN: 'certificate chain ends at a self-signed certificate that is not a trust anchor',
  DEPTH_ZERO_SELF_SIGNED_CERT: 'certificate is self-signed and not a trust anchor',
  CERT_SIGNATURE_FAILURE: 'certificate signature is invalid',
  UNABLE_TO_DECRYPT_CERT_SIGNATURE: 'certificate signature is invalid',
  CERT_UNTRUSTED: 'certificate is not trusted',
  CERT_REJECTED: 'certificate is rejected by the trust anchors',
  CERT_REVOKED: 'certificate has been revoked',
  INVALID_CA: 'certificate chain contains an issuer that is not a CA',
  // OpenSSL also reports a CA:FALSE issuer this way (its purpose check runs first).
  INVALID_PURPOSE: NOT_SERVER_PURPOSE,
  PATH_LENGTH_EXCEEDED: 'certificate chain is longer than a CA allows (path length constraint)',
  CERT_CHAIN_TOO_LONG: 'certificate chain is too long',
  ERROR_IN_CERT_NOT_BEFORE_FIELD: 'certificate has a malformed notBefore field',
  ERROR_IN_CERT_NOT_AFTER_FIELD: 'certificate has a malformed notAfter field',
  UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY: 'certificate issuer public key cannot be decoded',
  HOSTNAME_MISMATCH: 'hostname mismatch',
};

// Verification errors Node has no code for (err.code UNSPECIFIED): OpenSSL's
// X509_verify_cert_error_string() text is the message.
const unspecifiedWords: Record<string, string> = {
  'unhandled critical extension': CRITICAL,
  'permitted subtree violation': PERMITTED,
  'excluded subtree violation': EXCLUDED,
  'key usage does not include certificate signing': NO_CERT_SIGN,
  'invalid or inconsistent certificate extension': 'certificate has an invalid extension',
  'unsupported name constraint type': 'certificate name constraints cannot be checked (unsupported name type)',
  'unsupported or invalid name syntax': 'certificate name constraints cannot be checked (unsupported or invalid name syntax)',
  'unsupported or invalid name constraint syntax': 'certificate name constraints cannot be checked (invalid constraint syntax)',
  'name constraints minimum and maximum not supported': 'certificate name constraints cannot be checked (minimum or maximum set)',
  // OpenSSL's security level 2 (the default, src/trust/tls-settings.ts): 112 bits.
  'EE certificate key too weak': 'certificate key is too small (at least RSA 2048 bits or a 224-bit elliptic curve needed)',
  'CA certificate key too weak': 'CA certificate key is too small (at least RSA 2048 bits or a 224-bit elliptic curve needed)',
  'CA signature digest algorithm too weak': 'certificate signature algorithm is too weak (SHA-1 or MD5)',
  'path loop': 'certificate chain has a loop',
  'certificate chain too long': 'certificate chain is too long',
};

/** Words for a TLS failure, whatever layer raised it; `peer` is the other end (the server, for a client). */
export function describeTlsError(err: unknown, during: 'handshake' | 'session', peer: 'server' | 'client' = 'server'): string {
  const e = err as (Error & { code?: string; reason?: string }) | undefined;
  if (!e || typeof e !== 'object') return oneLine(String(err));
  if (e instanceof HostnameMismatch || e instanceof VerificationFailure) return oneLine(e.message);
  const code = e.code ?? '';
  if (verifyWords[code]) return `certificate verification failed: ${verifyWords[code]}`;
  if (code === 'UNSPECIFIED') return `certificate verification failed: ${unspecifiedWords[e.message] ?? oneLine(e.message)}`;
  if (code === 'ECONNRESET' && /disconnected before secure TLS|socket hang up/.test(e.message)) {
    return `connection closed by the ${peer} during the ${during}`;
  }
  if (code === 'ECONNRESET') return `connection reset by the ${peer} during the ${during}`;
  if (code === 'EPIPE') return `connection closed by the ${peer} during the ${during} (Broken pipe)`;
  if (code === 'ERR_SSL_WRONG_VERSION_NUMBER' || code === 'ERR_SSL_PACKET_LENGTH_TOO_LONG' || code === 'ERR_SSL_RECORD_LAYER_FAILURE' || code === 'ERR_SSL_HTTP_REQUEST') {
    return `the ${peer} did not ${peer === 'server' ? 'answer with' : 'speak'} TLS (${openSslReason(e)})`;
  }
  // A peer's own limit on warning alerts (OpenSSL ends after 5 in a row):
  // the peer sent no fatal alert, it kept sending warnings.
  if (code === 'ERR_SSL_TOO_MANY_WARN_ALERTS') return `TLS protocol error: the ${peer} sent too many warning alerts`;
  const alert = receivedAlert(e);
  if (alert) {
    // Servers that speak only TLS 1.0 or 1.1 answer a TLS 1.2+ hello this way.
    const hint = code === 'ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION' && peer === 'server' ? ' (no TLS version in common: TLS 1.0 and 1.1 are offered only with --min-protocol=TLSv1 or TLSv1.1)' : '';
    return `the ${peer} sent a fatal alert: ${alert}${hint}`;
  }
  if (code.startsWith('ERR_SSL_')) return `TLS protocol error: ${openSslReason(e)}`;
  return oneLine(e.message);
}

/** The fatal alert the server sent, in OpenSSL's words, if that is what the error is. */
export function receivedAlert(err: unknown): string | undefined {
  const e = err as (Error & { code?: string; reason?: string }) | undefined;
  if (!e || typeof e !== 'object' || !(e.code ?? '').startsWith('ERR_SSL_')) return undefined;
  // A received alert reads "sslv3 alert ...", "tlsv1 alert ...", "tlsv13 alert ..." or "ssl/tls alert ...".
  const received = /(?:^|:)\s*(?:sslv3|tlsv1\d*|ssl\/tls) alert (.+?)(?: \(|$|:)/;
  const alert = received.exec(e.reason ?? '') ?? received.exec(e.message);
  return alert ? oneLine(alert[1]) : undefined;
}

/** OpenSSL's reason string, without its "error:0A000102:SSL routines::" prefix. */
function openSslReason(e: Error & { reason?: string }): string {
  if (e.reason) return oneLine(e.reason);
  return oneLine(e.message.replace(/^.*?error:[0-9A-F]+:[^:]*:[^:]*:/, ''));
}
