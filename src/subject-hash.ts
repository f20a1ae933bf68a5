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
import { readChildren, readTlv, Tlv } from './der';

const UTF8_STRING = 0x0c;
const PRINTABLE_STRING = 0x13;
const T61_STRING = 0x14;
const IA5_STRING = 0x16;
const VISIBLE_STRING = 0x1a;
const UNIVERSAL_STRING = 0x1c;
const BMP_STRING = 0x1e;
const SEQUENCE = 0x30;
const SET = 0x31;

// Written into one reused byte array: a CADIR of ~145 files is hashed at
// every start, and a Buffer or an array per field made the garbage
// collector the main cost. A TLV's header is written once its content is
// there: room for the longest header is kept, then the content moved back.
let out = Buffer.alloc(4096);
let at = 0;

function room(n: number): void {
  if (at + n <= out.length) return;
  const bigger = Buffer.alloc(Math.max(out.length * 2, at + n));
  out.copy(bigger, 0, 0, at);
  out = bigger;
}

const MAX_HEADER = 6;

function open(): number {
  room(MAX_HEADER);
  const mark = at;
  at += MAX_HEADER;
  return mark;
}

function close(mark: number, tag: number): void {
  const length = at - mark - MAX_HEADER;
  let size = 2;
  if (length >= 0x80) for (let v = length; v > 0; v = Math.floor(v / 256)) size++;
  out.copyWithin(mark + size, mark + MAX_HEADER, at);
  out[mark] = tag;
  if (length < 0x80) out[mark + 1] = length;
  else {
    out[mark + 1] = 0x80 | (size - 2);
    for (let k = size - 1, v = length; k >= 2; k--, v = Math.floor(v / 256)) out[mark + k] = v & 0xff;
  }
  at -= MAX_HEADER - size;
}

function putTlv(tag: number, der: Buffer, from: number, to: number): void {
  const mark = open();
  room(to - from);
  // Short (an OID, a value): a loop beats Buffer.copy's set-up.
  for (let i = from; i < to; i++) out[at++] = der[i];
  close(mark, tag);
}

const isSpace = (b: number): boolean => b === 0x20 || (b >= 0x09 && b <= 0x0d);

/**
 * asn1_string_canon on the value's characters (code points, as
 * ASN1_STRING_to_UTF8 would turn them into UTF-8): white space trimmed at
 * both ends, inner runs folded to one space, ASCII letters lowered,
 * everything else kept. The caller reserves room (4 bytes a character).
 */
function putCanonical(points: ArrayLike<number>, from: number, to: number): void {
  let pendingSpace = false;
  let started = false;
  for (let i = from; i < to; i++) {
    const cp = points[i];
    if (cp < 0x80 && isSpace(cp)) {
      pendingSpace = started;
      continue;
    }
    if (pendingSpace) out[at++] = 0x20;
    pendingSpace = false;
    started = true;
    if (cp < 0x80) {
      out[at++] = cp >= 0x41 && cp <= 0x5a ? cp + 0x20 : cp;
    } else if (cp < 0x800) {
      out[at++] = 0xc0 | (cp >> 6);
      out[at++] = 0x80 | (cp & 0x3f);
    } else if (cp < 0x10000) {
      out[at++] = 0xe0 | (cp >> 12);
      out[at++] = 0x80 | ((cp >> 6) & 0x3f);
      out[at++] = 0x80 | (cp & 0x3f);
    } else {
      out[at++] = 0xf0 | (cp >> 18);
      out[at++] = 0x80 | ((cp >> 12) & 0x3f);
      out[at++] = 0x80 | ((cp >> 6) & 0x3f);
      out[at++] = 0x80 | (cp & 0x3f);
    }
  }
}

const NON_ASCII = /[^\x00-\x7f]/;
const SPACES = /[\t\n\v\f\r ]+/g;
const ONE_BYTE_TAGS = new Set([UTF8_STRING, PRINTABLE_STRING, T61_STRING, IA5_STRING, VISIBLE_STRING]);

/**
 * The common case, a value of one-byte characters all ASCII, canonical
 * with the runtime's own string functions (much cheaper than a loop in a
 * process that runs this once). ASCII white space and JavaScript's agree
 * there. False, writing nothing, for any other value.
 */
function putCanonicalAscii(tag: number, der: Buffer, from: number, to: number): boolean {
  if (!ONE_BYTE_TAGS.has(tag)) return false;
  const text = der.toString('latin1', from, to);
  if (NON_ASCII.test(text)) return false;
  at += out.write(text.replace(SPACES, ' ').trim().toLowerCase(), at, 'latin1');
  return true;
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

const CANONICAL_TAGS = new Set([UTF8_STRING, PRINTABLE_STRING, T61_STRING, IA5_STRING, VISIBLE_STRING, UNIVERSAL_STRING, BMP_STRING]);

/** One AttributeTypeAndValue, canonical and re-encoded with minimal lengths, as OpenSSL does; false when malformed. */
function putCanonicalAttribute(der: Buffer, attr: Tlv): boolean {
  if (attr.tag !== SEQUENCE) return false;
  const parts = readChildren(der, attr.start, attr.end);
  if (!parts || parts.length !== 2 || parts[0].tag !== 0x06) return false;
  const type = parts[0];
  const value = parts[1];
  const mark = open();
  putTlv(type.tag, der, type.start, type.end);
  if (CANONICAL_TAGS.has(value.tag)) {
    const valueMark = open();
    room(4 * (value.end - value.start));
    if (putCanonicalAscii(value.tag, der, value.start, value.end)) {
      close(valueMark, UTF8_STRING);
      close(mark, SEQUENCE);
      return true;
    }
    at = valueMark + MAX_HEADER;
    const points = codePoints(value.tag, der, value.start, value.end);
    if (!points) return false;
    const from = points === der ? value.start : 0;
    const to = points === der ? value.end : points.length;
    room(4 * (to - from));
    putCanonical(points, from, to);
    close(valueMark, UTF8_STRING);
  } else {
    putTlv(value.tag, der, value.start, value.end);
  }
  close(mark, SEQUENCE);
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
  const rdns = readChildren(der, name.start, name.end);
  if (!rdns) return undefined;
  at = 0;
  for (const rdn of rdns) {
    if (rdn.tag !== SET) return undefined;
    const attrs = readChildren(der, rdn.start, rdn.end);
    if (!attrs || attrs.length === 0) return undefined;
    const mark = open();
    const starts: number[] = [];
    for (const attr of attrs) {
      starts.push(at);
      if (!putCanonicalAttribute(der, attr)) return undefined;
    }
    if (starts.length > 1) {
      const encodings = starts.map((s, k) => out.slice(s, k + 1 < starts.length ? starts[k + 1] : at)).sort(compareEncodings);
      let w = starts[0];
      for (const e of encodings) {
        out.set(e, w);
        w += e.length;
      }
    }
    close(mark, SET);
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
