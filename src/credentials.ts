// Reads trust anchors, the client certificate and its key (PEM or DER), and
// builds the TLS context from them. The only module that touches key
// material; nothing here ever prints it.

import { readdirSync, readFileSync, statSync } from 'fs';
import { join } from 'path';
import { createPrivateKey } from 'crypto';
import { createSecureContext, SecureContext } from 'tls';
import { EXIT_CONFIG, EXIT_ENGINE, EXIT_SYSTEM, FatalError, describeSystemError, oneLine } from './errors';
import { looksLikeCertificate, readChildren, readTlv } from './der';
import type { TrustSource } from './config';
import { contextSettings, ProtocolRange } from './tls-settings';

export type { ProtocolRange } from './tls-settings';

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
  /** trust anchors, as PEM (empty when `anchorDir` is set) */
  ca: string[];
  /**
   * A CADIR whose anchors OpenSSL looks up itself, by subject hash, when a
   * chain needs them (see lazyAnchorDir): nothing is parsed up front.
   */
  anchorDir?: string;
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

/*
 * CADIR at the cost of a directory read. Handing every anchor of
 * /etc/ssl/certs (~140) to Node as `ca` costs ~30 ms per run: OpenSSL parses
 * each one into the context's store (~120 us apiece) on top of our own pass.
 * OpenSSL can instead look anchors up lazily, by subject hash, in a hashed
 * directory (what the C original does with CADIR): Node offers that only for
 * its process-wide default store, and only under --use-openssl-ca, where the
 * default store is OpenSSL's default paths, read from SSL_CERT_DIR and
 * SSL_CERT_FILE when Node first builds it. So, when
 *  - this process runs with --use-openssl-ca (bin/s6-tlsc-io's shebang),
 *  - no NODE_EXTRA_CA_CERTS (they would join that store; the shebang drops it),
 *  - no context was made before in this process (the store is made once),
 *  - and every hashed file of CADIR is a PEM file holding one self-issued
 *    certificate (a root: OpenSSL ends a chain there with no trust setting),
 * the context gets that default store with SSL_CERT_DIR=CADIR and
 * SSL_CERT_FILE=/dev/null: exactly CADIR's anchors, nothing else (Node's
 * bundled roots are not loaded under --use-openssl-ca). Anything else (DER
 * files, intermediates as anchors, which need the trust setting only the
 * `ca` path can add, bundles, TRUSTED CERTIFICATEs, junk to report) takes the
 * full path below. The check reads the files but parses no certificate.
 */
let contextMade = false;

function defaultStoreIsOurs(): boolean {
  return !contextMade && process.execArgv.includes('--use-openssl-ca') && process.env.NODE_EXTRA_CA_CERTS === undefined;
}

const PEM_CERT_ONLY = /^\s*-----BEGIN CERTIFICATE-----([A-Za-z0-9+/=\s]*?)-----END CERTIFICATE-----\s*$/;

/** True when a PEM file holds exactly one certificate whose issuer is its subject. */
function isSelfIssuedPem(data: Buffer): boolean {
  const m = PEM_CERT_ONLY.exec(data.toString('latin1'));
  if (!m) return false;
  const der = Buffer.from(m[1], 'base64');
  if (!looksLikeCertificate(der)) return false;
  const outer = readTlv(der, 0);
  const tbs = outer && readTlv(der, outer.start, outer.end);
  const fields = tbs && readChildren(der, tbs.start, tbs.end);
  if (!fields) return false;
  // [0] version (optional), serialNumber, signature, issuer, validity, subject
  const at = fields[0]?.tag === 0xa0 ? 1 : 0;
  const issuer = fields[at + 2];
  const subject = fields[at + 4];
  if (!issuer || !subject || issuer.tag !== 0x30 || subject.tag !== 0x30) return false;
  return der.subarray(issuer.start, issuer.end).equals(der.subarray(subject.start, subject.end));
}

/** CADIR itself when OpenSSL may look its anchors up lazily (see above), else undefined. */
export function lazyAnchorDir(source: TrustSource): string | undefined {
  if (source.kind !== 'dir' || !defaultStoreIsOurs()) return undefined;
  let names: string[];
  try {
    names = readdirSync(source.path).filter((n) => HASHED_NAME.test(n));
  } catch {
    return undefined; // the full path reports it
  }
  if (names.length === 0) return undefined;
  for (const name of names) {
    let data: Buffer;
    try {
      data = readFileSync(join(source.path, name));
    } catch {
      return undefined;
    }
    if (data.length > MAX_FILE_BYTES || !isSelfIssuedPem(data)) return undefined;
  }
  return source.path;
}

/**
 * `lazyAnchors: false` reads every anchor now: needed when privileges are
 * dropped next, since lazy lookups would read CADIR after the drop (SPEC
 * section 3 wants every file read before it, and CADIR may be root's only).
 */
export function loadCredentials(
  trust: TrustSource,
  clientCert?: { certFile: string; keyFile: string },
  { lazyAnchors = true }: { lazyAnchors?: boolean } = {},
): Credentials {
  const anchorDir = lazyAnchors ? lazyAnchorDir(trust) : undefined;
  const ca = anchorDir === undefined ? loadTrustAnchors(trust) : [];
  const creds: Credentials = anchorDir === undefined ? { ca } : { ca, anchorDir };
  if (!clientCert) return creds;
  return { ...creds, cert: loadCertificateChain(clientCert.certFile), key: loadPrivateKey(clientCert.keyFile) };
}

/*
 * Node builds its process-wide default store the first time a context gets
 * a `ca` too (only to compare against it); by default that parses its ~140
 * bundled roots, ~16 ms. Under --use-openssl-ca it is OpenSSL's default paths
 * instead, and pointing those at nothing while it is made keeps it empty and
 * cheap. A context with `ca` never uses it: its own store holds only the
 * anchors of CADIR or CAFILE. The variables are put back afterwards.
 */
function withDefaultPaths<T>(certDir: string, make: () => T): T {
  const saved = { SSL_CERT_FILE: process.env.SSL_CERT_FILE, SSL_CERT_DIR: process.env.SSL_CERT_DIR };
  process.env.SSL_CERT_FILE = '/dev/null';
  process.env.SSL_CERT_DIR = certDir;
  try {
    return make();
  } finally {
    contextMade = true;
    for (const [name, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  }
}

export function buildSecureContext(creds: Credentials, range: ProtocolRange = {}): SecureContext {
  try {
    return withDefaultPaths(creds.anchorDir ?? '/dev/null', () => createSecureContext({
      // Without `ca`, Node uses its default store: here CADIR, looked up lazily.
      ca: creds.anchorDir === undefined ? creds.ca : undefined,
      cert: creds.cert,
      key: creds.key,
      // Versions, suites, security level, options, groups: src/tls-settings.ts says why.
      ...contextSettings(range),
    }));
  } catch (err) {
    const message = oneLine(err instanceof Error ? err.message : String(err));
    if (creds.key !== undefined && /key|cert|x509|PEM/i.test(message)) {
      throw new FatalError(EXIT_CONFIG, `unable to use the client certificate and key: ${message}`);
    }
    throw new FatalError(EXIT_ENGINE, `unable to set up the TLS context: ${message}`);
  }
}
