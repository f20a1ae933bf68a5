// The trust anchors as certificates, for the checks that run after
// OpenSSL's (src/path.ts): the same certificates the TLS context trusts,
// read from the same place.

import { X509Certificate } from 'crypto';
import { readdirSync, readFileSync } from 'fs';
import { join } from 'path';
import { certificateNames, looksLikeCertificate, readTlv } from './der';
import type { Credentials } from './credentials';

const HASHED_NAME = /^[0-9a-f]{8}\.[0-9]+$/;
const PEM_BLOCK = /-----BEGIN ((?:X509 |TRUSTED )?CERTIFICATE)-----([A-Za-z0-9+/=\s]*?)-----END \1-----/g;
const MAX_FILE_BYTES = 16 * 1024 * 1024;

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

/** The anchors of a CADIR whose files OpenSSL reads by hash (only PEM roots go that way). */
function certificatesInDir(dir: string): Buffer[] {
  const found: Buffer[] = [];
  let names: string[];
  try {
    names = readdirSync(dir).filter((n) => HASHED_NAME.test(n));
  } catch {
    return found; // nothing trusted then: the path check fails closed
  }
  for (const name of names) {
    try {
      const data = readFileSync(join(dir, name));
      if (data.length <= MAX_FILE_BYTES) found.push(...certificatesInPem(data.toString('latin1')));
    } catch {
      // unreadable for us is unreadable for OpenSSL too
    }
  }
  return found;
}

export class TrustAnchors {
  private anchors?: Anchor[];

  /** `load` runs once, the first time an anchor is looked for. */
  constructor(private readonly load: () => Buffer[]) {}

  static fromCredentials(creds: Pick<Credentials, 'ca' | 'anchorDir'>): TrustAnchors {
    if (creds.anchorDir !== undefined) {
      const dir = creds.anchorDir;
      return new TrustAnchors(() => certificatesInDir(dir));
    }
    return new TrustAnchors(() => creds.ca.flatMap(certificatesInPem));
  }

  private list(): Anchor[] {
    if (!this.anchors) {
      this.anchors = [];
      for (const der of this.load()) {
        const names = certificateNames(der);
        if (names) this.anchors.push({ der, subject: names.subject });
      }
    }
    return this.anchors;
  }

  private x509(anchor: Anchor): X509Certificate | undefined {
    try {
      anchor.x509 ??= new X509Certificate(anchor.der);
    } catch {
      return undefined;
    }
    return anchor.x509;
  }

  /** True when `der` is one of the anchors, byte for byte. */
  has(der: Buffer): boolean {
    return this.list().some((a) => a.der.equals(der));
  }

  /**
   * An anchor that issued `cert` (names, key identifiers and key usage as
   * OpenSSL matches them, and the signature), one within its validity period
   * first. `everyName` also tries anchors whose subject is not byte for byte
   * `cert`'s issuer (OpenSSL compares names in a canonical form): costlier.
   */
  issuerOf(cert: X509Certificate, issuerName: Buffer, now: number, everyName = false): { der: Buffer; x509: X509Certificate } | undefined {
    let expired: { der: Buffer; x509: X509Certificate } | undefined;
    for (const anchor of this.list()) {
      if (!everyName && !anchor.subject.equals(issuerName)) continue;
      const x509 = this.x509(anchor);
      if (!x509 || !cert.checkIssued(x509) || !cert.verify(x509.publicKey)) continue;
      if (withinValidity(x509, now)) return { der: anchor.der, x509 };
      expired ??= { der: anchor.der, x509 };
    }
    return expired;
  }
}

export function withinValidity(cert: X509Certificate, now: number): boolean {
  const from = Date.parse(cert.validFrom);
  const to = Date.parse(cert.validTo);
  return Number.isFinite(from) && Number.isFinite(to) && from <= now && now <= to;
}
