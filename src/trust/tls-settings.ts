// The values every TLS context of ours is made with, and why each is what it
// is: protocol range, cipher suites, OpenSSL security level, options, groups.

import { createSecureContext, DEFAULT_CIPHERS, SecureVersion } from 'tls';
import { constants as cryptoConstants } from 'crypto';
import { FatalError, EXIT_ENGINE } from '../base/errors';

export interface ProtocolRange {
  minVersion?: SecureVersion;
  maxVersion?: SecureVersion;
  /** key exchange groups to offer, best first (--groups); the library's own list when absent */
  groups?: string[];
}

const VERSIONS: readonly SecureVersion[] = ['TLSv1', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3'];

/*
 * Security levels, measured with Node 20 (OpenSSL 3.0) and Node 26 (OpenSSL
 * 3.5) against `openssl s_server -tls1 / -tls1_1 -cipher ALL:@SECLEVEL=0`:
 * at level 1 or 2, OpenSSL 3.0 refuses every TLS 1.0/1.1 server that signs
 * its key exchange (ECDHE, DHE: "legacy sigalg disallowed") and OpenSSL 3.5
 * refuses TLS 1.0/1.1 altogether ("no protocols available"); only level 0
 * reaches them, and level 0 also lifts every minimum on keys, signatures
 * and key exchange parameters. So:
 *  - by default, TLS 1.2 and 1.3 only, at level 2 (OpenSSL 3.5's own default,
 *    raised from 3.0's 1): 112-bit security, RSA and finite-field DH of at
 *    least 2048 bits, curves of at least 224 bits, no SHA-1 signatures in the
 *    handshake. A TLS 1.2 server whose only key exchange is DHE with
 *    1024-bit parameters fails ("dh key too small"), as with Node 26's own
 *    defaults;
 *  - when the user asks for TLS 1.0 or 1.1 (--min-protocol or --max-protocol
 *    TLSv1 or TLSv1.1), level 0: those servers are reached, src/trust/policy.ts
 *    puts back the certificate minimums (keys, signature hashes) and Node's
 *    minDHSize (1024) still bounds DH parameters.
 */
export const DEFAULT_SECURITY_LEVEL = 2;
export const LEGACY_SECURITY_LEVEL = 0;

function below12(version: SecureVersion | undefined): boolean {
  return version !== undefined && VERSIONS.indexOf(version) < VERSIONS.indexOf('TLSv1.2');
}

/** True when the user asked for TLS 1.0 or 1.1, the only case for security level 0. */
export function legacyProtocolsAsked(range: ProtocolRange): boolean {
  return below12(range.minVersion) || below12(range.maxVersion);
}

export interface ContextSettings {
  minVersion: SecureVersion;
  maxVersion: SecureVersion;
  ciphers: string;
  secureOptions: number;
  ecdhCurve?: string;
}

/** The option values for createSecureContext: see above. */
export function contextSettings(range: ProtocolRange): ContextSettings {
  const legacy = legacyProtocolsAsked(range);
  const level = legacy ? LEGACY_SECURITY_LEVEL : DEFAULT_SECURITY_LEVEL;
  const settings: ContextSettings = {
    minVersion: range.minVersion ?? (legacy ? 'TLSv1' : 'TLSv1.2'),
    maxVersion: range.maxVersion ?? 'TLSv1.3',
    // The library's secure suites, best first (TLS 1.3 and 1.2 first).
    ciphers: `${DEFAULT_CIPHERS}:@SECLEVEL=${level}`,
    // Renegotiation initiated by the server is refused (SPEC section 4).
    secureOptions: cryptoConstants.SSL_OP_NO_RENEGOTIATION,
  };
  if (range.groups) {
    checkGroups(range.groups);
    settings.ecdhCurve = range.groups.join(':');
  }
  return settings;
}

/**
 * Node says only "Failed to set ECDH curve" when OpenSSL does not know a
 * group (X25519MLKEM768 before OpenSSL 3.5): find which ones, and say so.
 * The probe contexts get an empty `ca`: without one Node would load its
 * default trust store into each (~16 ms for its bundled roots).
 */
export function checkGroups(groups: string[]): void {
  const accepts = (list: string): boolean => {
    try {
      createSecureContext({ ca: [], ecdhCurve: list });
      return true;
    } catch {
      return false;
    }
  };
  if (accepts(groups.join(':'))) return;
  const unknown = groups.filter((g) => !accepts(g));
  const named = unknown.length > 0 ? unknown : groups;
  // No "key" in these words: buildSecureContext would take them for a client key problem.
  throw new FatalError(
    EXIT_ENGINE,
    `OpenSSL ${process.versions.openssl} (the TLS library of this Node ${process.version}) does not support the group${named.length > 1 ? 's' : ''} ${named.join(', ')} (--groups)`,
  );
}
