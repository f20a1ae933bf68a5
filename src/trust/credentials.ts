// Reads trust anchors, the client certificate and its key (PEM or DER), and
// builds the TLS context from them. The only module that touches key
// material; nothing here ever prints it.

import { readdirSync } from 'fs';
import { createPrivateKey } from 'crypto';
import { createSecureContext, SecureContext, SecureContextOptions } from 'tls';
import { EXIT_CONFIG, EXIT_ENGINE, EXIT_SYSTEM, FatalError, describeSystemError, oneLine } from '../base/errors';
import { looksLikeCertificate } from './der';
import { readRegularFile, requireDirectory } from '../base/local-files';
import { subjectHash } from './subject-hash';
import { CLIENT_AUTH_TRUST, processStoreAnchorDir, SERVER_AUTH_TRUST } from '../base/node-internals';
import type { TrustSource } from '../cli/config';
import { contextSettings, ProtocolRange } from './tls-settings';

export type { ProtocolRange } from './tls-settings';

/*
 * The CADIR rule, the same whether the anchors are read now or looked up
 * by OpenSSL later (see trustFor): the anchors are the certificates
 * in the files named hhhhhhhh.0, hhhhhhhh.1, ... (8 lowercase hex digits of
 * the certificate's subject hash, a dot, a number counted from 0 without a
 * gap), as `openssl rehash` and `c_rehash` name them, each certificate
 * filed under its own subject hash. Ignored: every other name (upper case
 * hex, `.rN` CRL names, leading zeros, README, *.pem), files after a gap,
 * and certificates filed under another hash (`openssl rehash -compat`
 * leaves old-style names too). A file that the rule takes must be a
 * regular file (or a link to one) holding certificates, PEM or DER.
 */
const HASHED_NAME = /^([0-9a-f]{8})\.(0|[1-9][0-9]*)$/;
/** Names some OpenSSL version may look up lazily (3.0 matches them case-insensitively, `.rN` too). */
const HASH_LIKE_NAME = /^[0-9a-f]{8}\.r?[0-9]+$/i;

const PEM_BLOCK = /-----BEGIN ((?:X509 |TRUSTED )?CERTIFICATE)-----([A-Za-z0-9+/=\s]*?)-----END \1-----/g;

export interface Credentials {
  /** trust anchors, as PEM (empty when `anchorDir` is set) */
  ca: string[];
  /**
   * A CADIR whose anchors OpenSSL looks up itself, by subject hash, when a
   * chain needs them (see trustFor): only checked up front, not loaded.
   */
  anchorDir?: string;
  /** client certificate chain and key, as PEM, when -y */
  cert?: string;
  key?: string;
}

interface FoundCertificate {
  label: string;
  der: Buffer;
}

function toPem(label: string, der: Buffer): string {
  const b64 = der.toString('base64').replace(/.{64}/g, '$&\n');
  return `-----BEGIN ${label}-----\n${b64}${b64.endsWith('\n') ? '' : '\n'}-----END ${label}-----\n`;
}

function isPem(data: Buffer): boolean {
  return data.includes('-----BEGIN ');
}

/** Every certificate in a file, as DER, with the label it had ("TRUSTED CERTIFICATE" keeps its aux data). */
function certificatesIn(data: Buffer): FoundCertificate[] {
  if (!isPem(data)) return looksLikeCertificate(data) ? [{ label: 'CERTIFICATE', der: data }] : [];
  const found: FoundCertificate[] = [];
  for (const m of data.toString('latin1').matchAll(PEM_BLOCK)) {
    // Node's base64 decoder skips the line breaks.
    const der = Buffer.from(m[2], 'base64');
    const label = m[1] === 'TRUSTED CERTIFICATE' ? m[1] : 'CERTIFICATE';
    if (!looksLikeCertificate(certificateOnly({ label, der }))) return [];
    found.push({ label, der });
  }
  return found;
}

/** The certificate without the aux data a TRUSTED CERTIFICATE carries after it. */
function certificateOnly(cert: FoundCertificate): Buffer {
  return cert.label === 'CERTIFICATE' ? cert.der : cert.der.subarray(0, certificateLength(cert.der));
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

/** What the anchors verify: servers' certificates (the client's) or clients' (the server's). */
export type AnchorPurpose = 'serverAuth' | 'clientAuth';

function anchorPem(cert: FoundCertificate, purpose: AnchorPurpose = 'serverAuth'): string {
  if (cert.label === 'TRUSTED CERTIFICATE') return toPem(cert.label, cert.der);
  return toPem('TRUSTED CERTIFICATE', Buffer.concat([cert.der, purpose === 'serverAuth' ? SERVER_AUTH_TRUST : CLIENT_AUTH_TRUST]));
}

const REHASH_HINT = 'run `openssl rehash` (or c_rehash) on it';

interface CadirContents {
  anchors: FoundCertificate[];
  /** true when OpenSSL's own lookup, in every version we run on, finds exactly `anchors` */
  lazyLookupAgrees: boolean;
}

/** The files the CADIR rule takes, in order, and whether any hash-like name is left out. */
function hashedFiles(dir: string): { names: { name: string; hash: string }[]; leftOut: boolean } {
  let entries: string[];
  try {
    entries = readdirSync(dir);
  } catch (err) {
    throw new FatalError(EXIT_SYSTEM, `unable to read trust anchors in ${dir}: ${describeSystemError(err)}`);
  }
  return reachableHashedNames(entries);
}

/**
 * Of a directory's entries, the names the CADIR rule takes, in sorted order:
 * hhhhhhhh.N is taken only if hhhhhhhh.0 to hhhhhhhh.(N-1) are all there,
 * since OpenSSL stops at the first gap. Each hash's unbroken run from .0 is
 * measured once, so the cost grows with the number of files, not with its
 * square (16000 files of one hash are a real directory's worth of mistakes).
 */
export function reachableHashedNames(entries: readonly string[]): { names: { name: string; hash: string }[]; leftOut: boolean } {
  const present = new Set(entries);
  /** per hash, how many files from .0 on follow each other without a gap */
  const runs = new Map<string, number>();
  const runLength = (hash: string): number => {
    let run = runs.get(hash);
    if (run === undefined) {
      for (run = 0; present.has(`${hash}.${run}`); run++);
      runs.set(hash, run);
    }
    return run;
  };
  const names: { name: string; hash: string }[] = [];
  let hashLike = 0;
  for (const name of [...entries].sort()) {
    if (HASH_LIKE_NAME.test(name)) hashLike++;
    const m = HASHED_NAME.exec(name);
    if (m && Number(m[2]) < runLength(m[1])) names.push({ name, hash: m[1] });
  }
  return { names, leftOut: hashLike !== names.length };
}

function readCadir(dir: string): CadirContents {
  requireDirectory(dir, 'trust anchors in');
  const { names, leftOut } = hashedFiles(dir);
  const anchors: FoundCertificate[] = [];
  let misfiled = 0;
  let plainPemOnly = true;
  for (const { name, hash } of names) {
    // Not path.join: normalizing ~145 paths is a visible share of a short run.
    const path = dir.endsWith('/') ? dir + name : `${dir}/${name}`;
    const data = readRegularFile(path, 'trust anchor');
    const certs = certificatesIn(data);
    if (certs.length === 0) throw new FatalError(EXIT_CONFIG, `invalid trust anchor ${path}: not a certificate`);
    plainPemOnly &&= isPem(data) && certs.every((c) => c.label === 'CERTIFICATE');
    for (const cert of certs) {
      if (subjectHash(certificateOnly(cert)) === hash) anchors.push(cert);
      else misfiled++;
    }
  }
  if (anchors.length === 0) {
    const why = names.length === 0 ? 'no file named by subject hash' : `${misfiled} certificates not under their subject hash`;
    throw new FatalError(EXIT_CONFIG, `no trust anchor found in ${dir} (${why}): ${REHASH_HINT}`);
  }
  return { anchors, lazyLookupAgrees: !leftOut && misfiled === 0 && plainPemOnly };
}

export function loadTrustAnchors(source: TrustSource, purpose: AnchorPurpose = 'serverAuth'): string[] {
  const pem = (cert: FoundCertificate): string => anchorPem(cert, purpose);
  if (source.kind === 'dir') return readCadir(source.path).anchors.map(pem);
  const certs = certificatesIn(readRegularFile(source.path, 'trust anchors in'));
  if (certs.length === 0) throw new FatalError(EXIT_CONFIG, `no valid trust anchor in ${source.path}`);
  return certs.map(pem);
}

export function loadCertificateChain(path: string): string {
  const certs = certificatesIn(readRegularFile(path, 'certificate'));
  if (certs.length === 0) throw new FatalError(EXIT_CONFIG, `unable to decode certificate in ${path}`);
  return certs.map((c) => toPem('CERTIFICATE', certificateOnly(c))).join('');
}

export function loadPrivateKey(path: string): string {
  const data = readRegularFile(path, 'private key');
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

/**
 * The trust anchors of `trust`, either loaded (`ca`), or, for a program
 * process started with Node's default store on this very CADIR (see
 * node-internals.ts), left for OpenSSL to look up there when the directory
 * holds nothing the two ways would read differently. Every file is read
 * and checked either way, so errors are the same; the lazy way only saves
 * OpenSSL parsing every anchor (~19 ms for /etc/ssl/certs on Node 20).
 */
function trustFor(trust: TrustSource, processStore: boolean): Pick<Credentials, 'ca' | 'anchorDir'> {
  if (trust.kind === 'file') return { ca: loadTrustAnchors(trust) };
  const contents = readCadir(trust.path);
  if (processStore && contents.lazyLookupAgrees && processStoreAnchorDir() === trust.path) return { ca: [], anchorDir: trust.path };
  return { ca: contents.anchors.map((cert) => anchorPem(cert)) };
}

/**
 * Reads everything the TLS context needs. `processStore: true` is for the
 * program entries only, whose process is theirs alone: it lets a CADIR be
 * looked up lazily in Node's process-wide default store when the process
 * was started on it. Library callers always get anchors of their own.
 */
export function loadCredentials(
  trust: TrustSource,
  clientCert?: { certFile: string; keyFile: string },
  { processStore = false }: { processStore?: boolean } = {},
): Credentials {
  const creds: Credentials = trustFor(trust, processStore);
  if (!clientCert) return creds;
  return { ...creds, cert: loadCertificateChain(clientCert.certFile), key: loadPrivateKey(clientCert.keyFile) };
}

/** `ca` of its own, or (anchorDir) the default store, where intermediates count as anchors too. */
function anchorOptions(creds: Credentials): SecureContextOptions {
  return creds.anchorDir === undefined ? { ca: creds.ca } : { allowPartialTrustChain: true };
}

export function buildSecureContext(creds: Credentials, range: ProtocolRange = {}): SecureContext {
  try {
    return createSecureContext({
      ...anchorOptions(creds),
      cert: creds.cert,
      key: creds.key,
      // Versions, suites, security level, options, groups: src/trust/tls-settings.ts says why.
      ...contextSettings(range),
    });
  } catch (err) {
    const message = oneLine(err instanceof Error ? err.message : String(err));
    if (creds.key !== undefined && /key|cert|x509|PEM/i.test(message)) {
      throw new FatalError(EXIT_CONFIG, `unable to use the client certificate and key: ${message}`);
    }
    throw new FatalError(EXIT_ENGINE, `unable to set up the TLS context: ${message}`);
  }
}
