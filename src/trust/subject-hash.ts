// OpenSSL's subject hash (X509_NAME_hash, what `openssl x509 -subject_hash`
// prints and what `openssl rehash` names CADIR files by), so that a CADIR
// file can be checked against its name without asking OpenSSL.
//
// The hash is the first four bytes, little-endian, of the SHA-1 of the
// name's canonical encoding (OpenSSL crypto/x509/x_name.c, x509_name_canon):
// each RDN re-encoded as a DER SET of its attributes, where every string
// value of the usual kinds becomes a UTF8String with leading and trailing
// white space removed, inner runs of white space folded to one space and
// ASCII letters lowered; other values are kept as they are. The outer
// SEQUENCE of the name is left out.

import * as crypto from 'crypto';

// crypto.hash (Node >= 20.12) saves a Hash object per call; ~145 per start.
const oneShot = (crypto as { hash?: (algorithm: string, data: Uint8Array, encoding: 'buffer') => Buffer }).hash;
const sha1 = (data: Uint8Array): Buffer => (oneShot ? oneShot('sha1', data, 'buffer') : crypto.createHash('sha1').update(data).digest());
import { readTlv, SEQUENCE, SET, Tlv } from './der';

const UTF8_STRING = 0x0c;
const PRINTABLE_STRING = 0x13;
const T61_STRING = 0x14;
const IA5_STRING = 0x16;
const VISIBLE_STRING = 0x1a;
const UNIVERSAL_STRING = 0x1c;
const BMP_STRING = 0x1e;

// Written into one reused buffer, every length computed before its bytes
// are written (no per-field Buffer, array or move): a CADIR of ~145 files is
// hashed at every start, in code that runs once per process, so allocations
// and calls per byte were most of its cost.
let out = Buffer.alloc(4096);
let at = 0;

function room(n: number): void {
  if (at + n <= out.length) return;
  const bigger = Buffer.alloc(Math.max(out.length * 2, at + n));
  out.copy(bigger, 0, 0, at);
  out = bigger;
}

const headerLength = (n: number): number => (n < 0x80 ? 2 : n < 0x100 ? 3 : n < 0x10000 ? 4 : 5);

function putHeader(tag: number, n: number): void {
  out[at++] = tag;
  if (n < 0x80) out[at++] = n;
  else if (n < 0x100) {
    out[at++] = 0x81;
    out[at++] = n;
  } else if (n < 0x10000) {
    out[at++] = 0x82;
    out[at++] = n >> 8;
    out[at++] = n & 0xff;
  } else {
    out[at++] = 0x83;
    out[at++] = n >> 16;
    out[at++] = (n >> 8) & 0xff;
    out[at++] = n & 0xff;
  }
}

const isSpace = (b: number): boolean => b === 0x20 || (b >= 0x09 && b <= 0x0d);

/**
 * asn1_string_canon over characters (code points, as ASN1_STRING_to_UTF8
 * would turn them into UTF-8): white space trimmed at both ends, inner runs
 * folded to one space, ASCII letters lowered, everything else kept. With
 * `write` false it only counts the bytes.
 */
function canonical(points: ArrayLike<number>, from: number, to: number, write: boolean): number {
  let n = 0;
  let pendingSpace = false;
  for (let i = from; i < to; i++) {
    const cp = points[i];
    if (cp < 0x80 && isSpace(cp)) {
      pendingSpace = n > 0;
      continue;
    }
    if (pendingSpace) {
      if (write) out[at++] = 0x20;
      n++;
      pendingSpace = false;
    }
    if (cp < 0x80) {
      if (write) out[at++] = cp >= 0x41 && cp <= 0x5a ? cp + 0x20 : cp;
      n++;
    } else if (cp < 0x800) {
      if (write) {
        out[at++] = 0xc0 | (cp >> 6);
        out[at++] = 0x80 | (cp & 0x3f);
      }
      n += 2;
    } else if (cp < 0x10000) {
      if (write) {
        out[at++] = 0xe0 | (cp >> 12);
        out[at++] = 0x80 | ((cp >> 6) & 0x3f);
        out[at++] = 0x80 | (cp & 0x3f);
      }
      n += 3;
    } else {
      if (write) {
        out[at++] = 0xf0 | (cp >> 18);
        out[at++] = 0x80 | ((cp >> 12) & 0x3f);
        out[at++] = 0x80 | ((cp >> 6) & 0x3f);
        out[at++] = 0x80 | (cp & 0x3f);
      }
      n += 4;
    }
  }
  return n;
}

/** The value's characters as ASN1_STRING_to_UTF8 reads them, or undefined where OpenSSL would fail; `der` itself for one byte a character. */
function codePoints(tag: number, der: Buffer, from: number, to: number): ArrayLike<number> | undefined {
  switch (tag) {
    case UTF8_STRING: {
      let ascii = true;
      for (let i = from; i < to && ascii; i++) ascii = der[i] < 0x80;
      // Plain ASCII, the common case, is its own code points.
      if (ascii) return der;
      const raw = der.subarray(from, to);
      const decoded = raw.toString('utf8');
      if (!Buffer.from(decoded, 'utf8').equals(raw)) return undefined;
      return Array.from(decoded, (ch) => ch.codePointAt(0) as number);
    }
    case PRINTABLE_STRING:
    case T61_STRING:
    case IA5_STRING:
    case VISIBLE_STRING:
      // One byte per character.
      return der;
    case BMP_STRING:
    case UNIVERSAL_STRING: {
      const width = tag === BMP_STRING ? 2 : 4;
      if ((to - from) % width) return undefined;
      const points: number[] = [];
      for (let i = from; i < to; i += width) {
        const cp = width === 2 ? der.readUInt16BE(i) : der.readUInt32BE(i);
        if (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return undefined;
        points.push(cp);
      }
      return points;
    }
    default:
      return undefined;
  }
}

const isCanonicalTag = (tag: number): boolean =>
  tag === UTF8_STRING || tag === PRINTABLE_STRING || tag === T61_STRING || tag === IA5_STRING || tag === VISIBLE_STRING || tag === UNIVERSAL_STRING || tag === BMP_STRING;

/** One AttributeTypeAndValue, canonical and re-encoded with minimal lengths, as OpenSSL does; false when malformed. */
function putCanonicalAttribute(der: Buffer, attr: Tlv): boolean {
  if (attr.tag !== SEQUENCE) return false;
  const type = readTlv(der, attr.start, attr.end);
  const value = type && readTlv(der, type.end, attr.end);
  if (!type || !value || value.end !== attr.end || type.tag !== 0x06) return false;
  const typeLength = type.end - type.start;
  let points: ArrayLike<number> | undefined;
  let from = value.start;
  let to = value.end;
  let valueLength = to - from;
  const canon = isCanonicalTag(value.tag);
  if (canon) {
    points = codePoints(value.tag, der, value.start, value.end);
    if (!points) return false;
    if (points !== der) [from, to] = [0, points.length];
    valueLength = canonical(points, from, to, false);
  }
  const content = headerLength(typeLength) + typeLength + headerLength(valueLength) + valueLength;
  room(headerLength(content) + content);
  putHeader(SEQUENCE, content);
  putHeader(type.tag, typeLength);
  for (let i = type.start; i < type.end; i++) out[at++] = der[i];
  if (points) {
    putHeader(UTF8_STRING, valueLength);
    canonical(points, from, to, true);
  } else {
    putHeader(value.tag, valueLength);
    for (let i = from; i < to; i++) out[at++] = der[i];
  }
  return true;
}

/** DER orders a SET OF by the encodings, compared as octet strings. */
function compareEncodings(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i] - b[i];
  return a.length - b.length;
}

/** The subject hash of a Name given as its full DER (SEQUENCE OF RDN), as 8 lowercase hex digits. */
export function nameHash(der: Buffer, name: Tlv): string | undefined {
  if (name.tag !== SEQUENCE) return undefined;
  at = 0;
  for (let rdnAt = name.start; rdnAt < name.end; ) {
    const rdn = readTlv(der, rdnAt, name.end);
    if (!rdn || rdn.tag !== SET || rdn.start === rdn.end) return undefined;
    rdnAt = rdn.end;
    // Written after a gap as wide as the longest header, then the header put right before them.
    const setMark = at;
    room(5);
    at += 5;
    const starts: number[] = [];
    for (let attrAt = rdn.start; attrAt < rdn.end; ) {
      const attr = readTlv(der, attrAt, rdn.end);
      if (!attr) return undefined;
      attrAt = attr.end;
      starts.push(at);
      if (!putCanonicalAttribute(der, attr)) return undefined;
    }
    if (starts.length > 1) {
      // Copies: the sorted encodings are written back over where they came from.
      const encodings = starts.map((s, k) => Buffer.from(out.subarray(s, k + 1 < starts.length ? starts[k + 1] : at))).sort(compareEncodings);
      let w = starts[0];
      for (const e of encodings) w += e.copy(out, w);
    }
    const length = at - setMark - 5;
    const header = headerLength(length);
    out.copyWithin(setMark + header, setMark + 5, at);
    at = setMark;
    putHeader(SET, length);
    at += length;
  }
  const md = sha1(out.subarray(0, at));
  return ((md[0] | (md[1] << 8) | (md[2] << 16) | (md[3] << 24)) >>> 0).toString(16).padStart(8, '0');
}

/** The subject Name of a certificate (DER), or undefined if it cannot be found. */
export function subjectOf(cert: Buffer): Tlv | undefined {
  const outer = readTlv(cert, 0);
  const tbs = outer && readTlv(cert, outer.start, outer.end);
  if (!tbs) return undefined;
  // [0] version (optional), serialNumber, signature, issuer, validity, subject
  let field = readTlv(cert, tbs.start, tbs.end);
  if (field?.tag === 0xa0) field = readTlv(cert, field.end, tbs.end);
  for (let k = 0; k < 4 && field; k++) field = readTlv(cert, field.end, tbs.end);
  return field;
}

/** The subject hash of a Name given alone, as its DER. */
export function nameDerHash(name: Buffer): string | undefined {
  const outer = readTlv(name, 0);
  return outer && outer.end === name.length ? nameHash(name, outer) : undefined;
}

/** `openssl x509 -subject_hash` of a certificate (DER), or undefined when OpenSSL could not hash it either. */
export function subjectHash(cert: Buffer): string | undefined {
  const subject = subjectOf(cert);
  return subject && nameHash(cert, subject);
}
