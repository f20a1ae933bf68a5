// The trust anchors as certificates, for the checks that run after
// OpenSSL's (src/path.ts): the same certificates the TLS context trusts,
// read from the same place.

import { createHash, X509Certificate } from 'crypto';
import { readFileSync } from 'fs';
import { join } from 'path';
import { certificateNames, looksLikeCertificate, readChildren, readTlv } from './der';
import type { Credentials } from './credentials';

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

/*
 * OpenSSL's subject hash (X509_NAME_hash_ex, what c_rehash names CADIR files
 * by): the SHA-1 of the name's canonical encoding, its first 4 bytes read
 * little-endian. Canonical: every string value turned to UTF-8, leading and
 * trailing ASCII spaces dropped, inner runs of them made one space, ASCII
 * lower-cased, and encoded as a UTF8String; other values as they are; each
 * RDN a DER SET (sorted), the SETs one after another with no outer SEQUENCE.
 * With it a lazily read CADIR is looked up as OpenSSL does, a file or two
 * per name, instead of reading every file (144 in /etc/ssl/certs: 3-8 ms).
 */
const CANONICAL_STRINGS = new Set([0x0c, 0x1e, 0x1c, 0x13, 0x14, 0x16, 0x1a]);

function stringToUtf8(tag: number, value: Buffer): Buffer {
  if (tag === 0x0c) return value;
  if (tag === 0x1e) return Buffer.from(Buffer.from(value).swap16().toString('utf16le'), 'utf8');
  if (tag === 0x1c) {
    let text = '';
    for (let k = 0; k + 3 < value.length; k += 4) text += String.fromCodePoint(value.readUInt32BE(k));
    return Buffer.from(text, 'utf8');
  }
  return Buffer.from(value.toString('latin1'), 'utf8'); // one byte per character
}

function canonicalString(utf8: Buffer): Buffer {
  const isSpace = (b: number): boolean => b === 0x20 || (b >= 0x09 && b <= 0x0d);
  let start = 0;
  let end = utf8.length;
  while (start < end && isSpace(utf8[start])) start++;
  while (end > start && isSpace(utf8[end - 1])) end--;
  const out: number[] = [];
  for (let k = start; k < end; ) {
    const b = utf8[k];
    if (b >= 0x80) {
      out.push(b);
      k++;
    } else if (isSpace(b)) {
      out.push(0x20);
      while (k < end && isSpace(utf8[k])) k++;
    } else {
      out.push(b >= 0x41 && b <= 0x5a ? b + 0x20 : b);
      k++;
    }
  }
  return Buffer.from(out);
}

function derHeader(tag: number, length: number): Buffer {
  if (length < 0x80) return Buffer.from([tag, length]);
  const bytes: number[] = [];
  for (let v = length; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
  return Buffer.from([tag, 0x80 | bytes.length, ...bytes]);
}

const tlv = (tag: number, body: Buffer): Buffer => Buffer.concat([derHeader(tag, body.length), body]);

/** The 8 hex digits OpenSSL names a CADIR file by, for a Name in DER; undefined when it cannot be read. */
export function opensslNameHash(name: Buffer): string | undefined {
  const outer = readTlv(name, 0);
  const rdns = outer && outer.tag === 0x30 ? readChildren(name, outer.start, outer.end) : undefined;
  if (!rdns) return undefined;
  const sets: Buffer[] = [];
  for (const rdn of rdns) {
    const atvs = rdn.tag === 0x31 ? readChildren(name, rdn.start, rdn.end) : undefined;
    if (!atvs) return undefined;
    const entries: Buffer[] = [];
    for (const atv of atvs) {
      const parts = atv.tag === 0x30 ? readChildren(name, atv.start, atv.end) : undefined;
      if (!parts || parts.length !== 2) return undefined;
      const [oid, value] = parts;
      const raw = name.subarray(value.start, value.end);
      const canon = CANONICAL_STRINGS.has(value.tag) ? tlv(0x0c, canonicalString(stringToUtf8(value.tag, raw))) : name.subarray(value.offset, value.end);
      entries.push(tlv(0x30, Buffer.concat([name.subarray(oid.offset, oid.end), canon])));
    }
    sets.push(tlv(0x31, Buffer.concat(entries.sort(Buffer.compare))));
  }
  const md = createHash('sha1').update(Buffer.concat(sets)).digest();
  return md.readUInt32LE(0).toString(16).padStart(8, '0');
}

/** The certificates of a CADIR filed under `name`'s hash (name.0, name.1, ... as OpenSSL reads them). */
function certificatesFiledUnder(dir: string, name: Buffer): Buffer[] | undefined {
  const hash = opensslNameHash(name);
  if (!hash) return undefined;
  const found: Buffer[] = [];
  for (let n = 0; ; n++) {
    let data: Buffer;
    try {
      data = readFileSync(join(dir, `${hash}.${n}`));
    } catch {
      return found;
    }
    if (data.length <= MAX_FILE_BYTES) found.push(...certificatesInPem(data.toString('latin1')));
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
