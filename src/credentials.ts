// Reads trust anchors, the client certificate and its key (PEM or DER), and
// builds the TLS context from them. The only module that touches key
// material; nothing here ever prints it.

import { readdirSync, readFileSync, statSync } from 'fs';
import { join } from 'path';
import { createPrivateKey, constants as cryptoConstants } from 'crypto';
import { createSecureContext, DEFAULT_CIPHERS, SecureContext, SecureVersion } from 'tls';
import { EXIT_CONFIG, EXIT_ENGINE, EXIT_SYSTEM, FatalError, describeSystemError, oneLine } from './errors';
import { looksLikeCertificate } from './der';
import type { TrustSource } from './config';

/** No certificate, key or anchor bundle we accept is larger than this. */
const MAX_FILE_BYTES = 16 * 1024 * 1024;

/** c_rehash / openssl rehash names: 8 hex digits of the subject hash, a dot, a counter. */
const HASHED_NAME = /^[0-9a-f]{8}\.[0-9]+$/;

const PEM_BLOCK = /-----BEGIN ((?:X509 |TRUSTED )?CERTIFICATE)-----([A-Za-z0-9+/=\s]*?)-----END \1-----/g;

/*
 * Trust anchors may be intermediate CAs (SPEC section 3). OpenSSL only ends a
 * chain at a certificate that is self-signed, unless the anchor carries an
 * explicit trust setting: then check_trust() accepts it where it stands, and
 * every certificate below it is still fully verified (signatures, validity,
 * CA constraints, purpose, name). Node exposes no X509_V_FLAG_PARTIAL_CHAIN,
 * but it reads anchors with PEM_read_bio_X509_AUX, so each anchor is handed
 * over as a "TRUSTED CERTIFICATE" whose auxiliary data trusts it for
 * serverAuth (the same bytes `openssl x509 -addtrust serverAuth` appends):
 *   X509_CERT_AUX ::= SEQUENCE { trust SEQUENCE OF OID { id-kp-serverAuth } }
 */
const SERVER_AUTH_TRUST = Buffer.from('300c300a06082b06010505070301', 'hex');

export interface Credentials {
  /** trust anchors, as PEM */
  ca: string[];
  /** client certificate chain and key, as PEM, when -y */
  cert?: string;
  key?: string;
}

function readLimited(path: string, what: string): Buffer {
  let data: Buffer;
  try {
    if (statSync(path).size > MAX_FILE_BYTES) {
      throw new FatalError(EXIT_CONFIG, `${what} ${path} is larger than ${MAX_FILE_BYTES} bytes`);
    }
    data = readFileSync(path);
  } catch (err) {
    if (err instanceof FatalError) throw err;
    throw new FatalError(EXIT_SYSTEM, `unable to read ${what} ${path}: ${describeSystemError(err)}`);
  }
  return data;
}

function toPem(label: string, der: Buffer): string {
  const b64 = der.toString('base64').replace(/.{64}/g, '$&\n');
  return `-----BEGIN ${label}-----\n${b64}${b64.endsWith('\n') ? '' : '\n'}-----END ${label}-----\n`;
}

function isPem(data: Buffer): boolean {
  return data.includes('-----BEGIN ');
}

/** Every certificate in a file, as DER, with the label it had ("TRUSTED CERTIFICATE" keeps its aux data). */
function certificatesIn(data: Buffer): { label: string; der: Buffer }[] {
  if (!isPem(data)) return looksLikeCertificate(data) ? [{ label: 'CERTIFICATE', der: data }] : [];
  const found: { label: string; der: Buffer }[] = [];
  for (const m of data.toString('latin1').matchAll(PEM_BLOCK)) {
    const der = Buffer.from(m[2].replace(/\s+/g, ''), 'base64');
    const label = m[1] === 'TRUSTED CERTIFICATE' ? m[1] : 'CERTIFICATE';
    // A TRUSTED CERTIFICATE is the certificate followed by its aux data.
    const certOnly = label === 'CERTIFICATE' ? der : der.subarray(0, certificateLength(der));
    if (!looksLikeCertificate(certOnly)) return [];
    found.push({ label, der });
  }
  return found;
}

function certificateLength(der: Buffer): number {
  // Outer SEQUENCE header + length; 0 makes looksLikeCertificate fail.
  if (der.length < 2 || der[0] !== 0x30) return 0;
  const first = der[1];
  if (!(first & 0x80)) return 2 + first;
  const count = first & 0x7f;
  if (count === 0 || count > 4 || der.length < 2 + count) return 0;
  let length = 0;
  for (let k = 0; k < count; k++) length = length * 256 + der[2 + k];
  return 2 + count + length;
}

function anchorPem(cert: { label: string; der: Buffer }): string {
  if (cert.label === 'TRUSTED CERTIFICATE') return toPem(cert.label, cert.der);
  return toPem('TRUSTED CERTIFICATE', Buffer.concat([cert.der, SERVER_AUTH_TRUST]));
}

export function loadTrustAnchors(source: TrustSource): string[] {
  const anchors: string[] = [];
  if (source.kind === 'file') {
    const data = readLimited(source.path, 'trust anchors in');
    const certs = certificatesIn(data);
    if (certs.length === 0) throw new FatalError(EXIT_CONFIG, `no valid trust anchor in ${source.path}`);
    for (const cert of certs) anchors.push(anchorPem(cert));
    return anchors;
  }
  let names: string[];
  try {
    names = readdirSync(source.path);
  } catch (err) {
    throw new FatalError(EXIT_SYSTEM, `unable to read trust anchors in ${source.path}: ${describeSystemError(err)}`);
  }
  for (const name of names.filter((n) => HASHED_NAME.test(n)).sort()) {
    const path = join(source.path, name);
    const certs = certificatesIn(readLimited(path, 'trust anchor'));
    if (certs.length === 0) throw new FatalError(EXIT_CONFIG, `invalid trust anchor ${path}: not a certificate`);
    for (const cert of certs) anchors.push(anchorPem(cert));
  }
  if (anchors.length === 0) throw new FatalError(EXIT_CONFIG, `no trust anchor found in ${source.path}`);
  return anchors;
}

export function loadCertificateChain(path: string): string {
  const data = readLimited(path, 'certificate');
  const certs = certificatesIn(data);
  if (certs.length === 0) throw new FatalError(EXIT_CONFIG, `unable to decode certificate in ${path}`);
  return certs.map((c) => toPem('CERTIFICATE', c.label === 'CERTIFICATE' ? c.der : c.der.subarray(0, certificateLength(c.der)))).join('');
}

export function loadPrivateKey(path: string): string {
  const data = readLimited(path, 'private key');
  const attempts = isPem(data)
    ? [{ key: data, format: 'pem' as const }]
    : (['pkcs8', 'pkcs1', 'sec1'] as const).map((type) => ({ key: data, format: 'der' as const, type }));
  for (const attempt of attempts) {
    try {
      return createPrivateKey(attempt).export({ format: 'pem', type: 'pkcs8' }).toString();
    } catch {
      // try the next encoding
    }
  }
  throw new FatalError(EXIT_CONFIG, `unable to decode private key in ${path}`);
}

export function loadCredentials(trust: TrustSource, clientCert?: { certFile: string; keyFile: string }): Credentials {
  const ca = loadTrustAnchors(trust);
  if (!clientCert) return { ca };
  return { ca, cert: loadCertificateChain(clientCert.certFile), key: loadPrivateKey(clientCert.keyFile) };
}

/*
 * Liberal versions, as a client should be (SPEC section 4): TLS 1.0 and 1.1
 * need security level 0 in OpenSSL 3; the suite order stays the library's
 * secure default, TLS 1.3 and 1.2 first. Renegotiation initiated by the
 * server is refused.
 */
export const CLIENT_CIPHERS = `${DEFAULT_CIPHERS}:@SECLEVEL=0`;

export interface ProtocolRange {
  minVersion?: SecureVersion;
  maxVersion?: SecureVersion;
}

export function buildSecureContext(creds: Credentials, range: ProtocolRange = {}): SecureContext {
  try {
    return createSecureContext({
      ca: creds.ca,
      cert: creds.cert,
      key: creds.key,
      minVersion: range.minVersion ?? 'TLSv1',
      maxVersion: range.maxVersion ?? 'TLSv1.3',
      ciphers: CLIENT_CIPHERS,
      secureOptions: cryptoConstants.SSL_OP_NO_RENEGOTIATION,
    });
  } catch (err) {
    const message = oneLine(err instanceof Error ? err.message : String(err));
    if (creds.key !== undefined && /key|cert|x509|PEM/i.test(message)) {
      throw new FatalError(EXIT_CONFIG, `unable to use the client certificate and key: ${message}`);
    }
    throw new FatalError(EXIT_ENGINE, `unable to set up the TLS context: ${message}`);
  }
}
