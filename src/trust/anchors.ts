// The trust anchors as certificates, for the checks that run after
// OpenSSL's (src/trust/path.ts): the same certificates the TLS context trusts,
// read from the same place.

import { X509Certificate } from 'crypto';
import { join } from 'path';
import { certificateNames, looksLikeCertificate, readTlv } from './der';
import type { Credentials } from './credentials';
import { readRegularFile } from '../base/local-files';
import { nameDerHash } from './subject-hash';

/** OpenSSL's subject hash of a Name (one implementation, src/trust/subject-hash.ts). */
export { nameDerHash as opensslNameHash } from './subject-hash';

const PEM_BLOCK = /-----BEGIN ((?:X509 |TRUSTED )?CERTIFICATE)-----([A-Za-z0-9+/=\s]*?)-----END \1-----/g;

interface Anchor {
  der: Buffer;
  subject: Buffer;
  x509?: X509Certificate;
}

/** The certificate part of a PEM block's DER (a TRUSTED CERTIFICATE has aux data after it). */
function certificateOnly(der: Buffer): Buffer | undefined {
  const outer = readTlv(der, 0);
  const cert = outer ? der.subarray(0, outer.end) : undefined;
  return cert && looksLikeCertificate(cert) ? cert : undefined;
}

function certificatesInPem(text: string): Buffer[] {
  const found: Buffer[] = [];
  for (const m of text.matchAll(PEM_BLOCK)) {
    const cert = certificateOnly(Buffer.from(m[2].replace(/\s+/g, ''), 'base64'));
    if (cert) found.push(cert);
  }
  return found;
}

/** The certificates of a CADIR filed under `name`'s hash (name.0, name.1, ... as OpenSSL reads them). */
function certificatesFiledUnder(dir: string, name: Buffer): Buffer[] | undefined {
  // OpenSSL's subject hash, what c_rehash names CADIR files by (src/trust/subject-hash.ts).
  const hash = nameDerHash(name);
  if (!hash) return undefined;
  const found: Buffer[] = [];
  for (let n = 0; ; n++) {
    let data: Buffer;
    try {
      // Regular files only, bounded (src/base/local-files.ts); credentials.ts checked them at start.
      data = readRegularFile(join(dir, `${hash}.${n}`), 'trust anchor');
    } catch {
      return found;
    }
    found.push(...certificatesInPem(data.toString('latin1')));
  }
}

export class TrustAnchors {
  private anchors?: Anchor[];
  private readonly filed = new Map<string, Anchor[]>();

  /**
   * Either every anchor, read once the first time one is looked for, or a
   * CADIR looked up by name hash as OpenSSL does when it reads it lazily.
   */
  private constructor(private readonly source: { load: () => Buffer[] } | { dir: string }) {}

  static fromCredentials(creds: Pick<Credentials, 'ca' | 'anchorDir'>): TrustAnchors {
    if (creds.anchorDir !== undefined) return new TrustAnchors({ dir: creds.anchorDir });
    return TrustAnchors.of(() => creds.ca.flatMap(certificatesInPem));
  }

  static of(load: () => Buffer[]): TrustAnchors {
    return new TrustAnchors({ load });
  }

  /** The anchors whose subject may be `name`: byte for byte, or, with `everyName`, any (OpenSSL compares canonical forms). */
  private candidates(name: Buffer, everyName: boolean): Anchor[] {
    if ('dir' in this.source) {
      const dir = this.source.dir;
      const key = name.toString('hex');
      let found = this.filed.get(key);
      if (!found) {
        found = toAnchors(certificatesFiledUnder(dir, name) ?? []);
        this.filed.set(key, found);
      }
      return found;
    }
    this.anchors ??= toAnchors(this.source.load());
    return everyName ? this.anchors : this.anchors.filter((a) => a.subject.equals(name));
  }

  /** True when `der` is one of the anchors, byte for byte. */
  has(der: Buffer): boolean {
    const subject = certificateNames(der)?.subject;
    return !!subject && this.candidates(subject, false).some((a) => a.der.equals(der));
  }

  /**
   * An anchor that issued `cert` (names, key identifiers and key usage as
   * OpenSSL matches them, and the signature), one within its validity period
   * first. `everyName` also tries anchors whose subject is not byte for byte
   * `cert`'s issuer: costlier, for the end of Node's chain only.
   */
  issuerOf(cert: X509Certificate, issuerName: Buffer, now: number, everyName = false): { der: Buffer; x509: X509Certificate } | undefined {
    let expired: { der: Buffer; x509: X509Certificate } | undefined;
    for (const anchor of this.candidates(issuerName, everyName)) {
      const x509 = parsed(anchor);
      if (!x509 || !cert.checkIssued(x509) || !cert.verify(x509.publicKey)) continue;
      if (withinValidity(x509, now)) return { der: anchor.der, x509 };
      expired ??= { der: anchor.der, x509 };
    }
    return expired;
  }
}

function toAnchors(ders: Buffer[]): Anchor[] {
  const anchors: Anchor[] = [];
  for (const der of ders) {
    const names = certificateNames(der);
    if (names) anchors.push({ der, subject: names.subject });
  }
  return anchors;
}

function parsed(anchor: Anchor): X509Certificate | undefined {
  try {
    anchor.x509 ??= new X509Certificate(anchor.der);
  } catch {
    return undefined;
  }
  return anchor.x509;
}

export function withinValidity(cert: X509Certificate, now: number): boolean {
  const from = Date.parse(cert.validFrom);
  const to = Date.parse(cert.validTo);
  return Number.isFinite(from) && Number.isFinite(to) && from <= now && now <= to;
}
