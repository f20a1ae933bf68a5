// Just enough DER to tell a certificate from garbage and to find fields in
// one, without trusting a single length byte read from a hostile file.

export interface Tlv {
  tag: number;
  /** offset of the tag byte: the whole TLV is [offset, end) */
  offset: number;
  /** offset of the value's first byte */
  start: number;
  /** offset just past the value */
  end: number;
}

/** The TLV at `offset`, or undefined if it is malformed or overruns `limit`. */
export function readTlv(buf: Uint8Array, offset: number, limit = buf.length): Tlv | undefined {
  if (offset + 2 > limit) return undefined;
  const tag = buf[offset];
  let length = buf[offset + 1];
  let start = offset + 2;
  if (length & 0x80) {
    const count = length & 0x7f;
    // DER never uses the indefinite form, and no certificate needs 4 GiB.
    if (count === 0 || count > 4 || start + count > limit) return undefined;
    length = 0;
    for (let k = 0; k < count; k++) length = length * 256 + buf[start + k];
    start += count;
  }
  const end = start + length;
  if (end > limit) return undefined;
  return { tag, offset, start, end };
}

/** Universal tags this project reads. */
export const BOOLEAN = 0x01;
export const INTEGER = 0x02;
export const BIT_STRING = 0x03;
export const OCTET_STRING = 0x04;
export const OID = 0x06;
export const SEQUENCE = 0x30;
export const SET = 0x31;

/**
 * True when `der` is exactly one X.509 Certificate at the outer level:
 * SEQUENCE { SEQUENCE tbsCertificate, SEQUENCE signatureAlgorithm, BIT STRING }.
 * OpenSSL parses the inside; this keeps non-certificates from being dropped silently.
 */
export function looksLikeCertificate(der: Uint8Array): boolean {
  const outer = readTlv(der, 0);
  if (!outer || outer.tag !== SEQUENCE || outer.end !== der.length) return false;
  const tbs = readTlv(der, outer.start, outer.end);
  if (!tbs || tbs.tag !== SEQUENCE) return false;
  const alg = readTlv(der, tbs.end, outer.end);
  if (!alg || alg.tag !== SEQUENCE) return false;
  const sig = readTlv(der, alg.end, outer.end);
  return !!sig && sig.tag === BIT_STRING && sig.end === outer.end;
}

/** The TLVs directly inside [start, end), or undefined if any is malformed. */
export function readChildren(buf: Uint8Array, start: number, end: number): Tlv[] | undefined {
  const out: Tlv[] = [];
  let at = start;
  while (at < end) {
    const tlv = readTlv(buf, at, end);
    if (!tlv) return undefined;
    out.push(tlv);
    at = tlv.end;
  }
  return out;
}

/** The dotted text of an OBJECT IDENTIFIER's content octets, or undefined if malformed. */
export function decodeOid(buf: Uint8Array, start: number, end: number): string | undefined {
  if (start >= end || end - start > 64) return undefined;
  const arcs: number[] = [];
  let value = 0;
  let pending = false;
  for (let at = start; at < end; at++) {
    const byte = buf[at];
    // A leading 0x80 is a non-minimal encoding, which DER forbids.
    if (!pending && byte === 0x80) return undefined;
    value = value * 128 + (byte & 0x7f);
    if (value > Number.MAX_SAFE_INTEGER / 128) return undefined;
    pending = (byte & 0x80) !== 0;
    if (!pending) {
      arcs.push(value);
      value = 0;
    }
  }
  if (pending) return undefined;
  const first = arcs[0] < 40 ? 0 : arcs[0] < 80 ? 1 : 2;
  return [first, arcs[0] - first * 40, ...arcs.slice(1)].join('.');
}

/** The number of significant bits of an unsigned big-endian INTEGER's content octets. */
export function integerBits(buf: Uint8Array, start: number, end: number): number {
  let at = start;
  while (at < end && buf[at] === 0) at++;
  if (at === end) return 0;
  return (end - at - 1) * 8 + (32 - Math.clz32(buf[at]));
}

/** The issuer and subject Names of a certificate, as their whole DER (tag and length included). */
export function certificateNames(der: Uint8Array): { issuer: Buffer; subject: Buffer } | undefined {
  const outer = readTlv(der, 0);
  const tbs = outer && outer.tag === SEQUENCE ? readTlv(der, outer.start, outer.end) : undefined;
  const fields = tbs && tbs.tag === SEQUENCE ? readChildren(der, tbs.start, tbs.end) : undefined;
  if (!fields) return undefined;
  // [0] version (absent in v1), serialNumber, signature, issuer, validity, subject
  const at = fields[0]?.tag === 0xa0 ? 1 : 0;
  const issuer = fields[at + 2];
  const subject = fields[at + 4];
  if (!issuer || !subject || issuer.tag !== SEQUENCE || subject.tag !== SEQUENCE) return undefined;
  const whole = (t: Tlv): Buffer => Buffer.from(der.subarray(t.offset, t.end));
  return { issuer: whole(issuer), subject: whole(subject) };
}
