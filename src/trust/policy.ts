// What a careful client checks beyond OpenSSL's verdict (SPEC section 4).
//
// When TLS 1.0 or 1.1 is asked for, the engine negotiates at @SECLEVEL=0,
// which they need (src/trust/tls-settings.ts); in OpenSSL that level also lifts
// every minimum on the certificates themselves (RSA keys of 512 bits, MD5 and
// SHA-1 signatures). These checks put those minimums back, on the path
// OpenSSL has verified (src/trust/path.ts makes sure of it); at the default level 2
// OpenSSL enforces most of them first. They also refuse a CA certificate as
// the server's, check wildcards against name constraints, and replace Node's
// name check, which falls back to the subject CN and accepts partial
// wildcards ("w*.example.com"): RFC 9525 (which obsoletes RFC 6125) and the
// CA/Browser Forum Baseline Requirements forbid both.
//
// Everything is read from the certificates' DER (Node's `.raw`), never from
// Node's text renderings, whose escaping a hostile name could play with.

import type { PeerCertificate } from 'tls';
import { BIT_STRING, BOOLEAN, INTEGER, OCTET_STRING, OID, SEQUENCE, Tlv, decodeOid, integerBits, readChildren, readTlv } from './der';
import { oneLine } from '../base/errors';
import type { ServerName } from '../cli/config';
import type { TrustAnchors } from './anchors';
import { certificationPath } from './path';


export interface ParsedCertificate {
  /** outer signatureAlgorithm OID */
  signatureAlgorithm: string;
  /** the hash named by RSASSA-PSS parameters (SHA-1 when they say nothing) */
  pssHash?: string;
  publicKey: { algorithm: string; curve?: string; explicitCurve?: boolean; bits?: number };
  /** subjectAltName dNSName entries, as bytes read (latin1) */
  dnsNames: string[];
  /** subjectAltName iPAddress entries */
  ipAddresses: Uint8Array[];
  /** every SAN entry, in order, as a person would read it */
  sanDisplay: string[];
  /** keyUsage bits (bit 0 = digitalSignature is 0x80 of the first byte), when present */
  keyUsage?: number;
  /** the subject's last commonName, for messages */
  commonName?: string;
  /** basicConstraints cA */
  ca: boolean;
  /** dNSName subtrees of nameConstraints, lower case, when the extension is there */
  dnsConstraints?: { permitted: string[]; excluded: string[] };
}

const OIDS = {
  rsaEncryption: '1.2.840.113549.1.1.1',
  rsassaPss: '1.2.840.113549.1.1.10',
  dsa: '1.2.840.10040.4.1',
  ecPublicKey: '1.2.840.10045.2.1',
  subjectAltName: '2.5.29.17',
  keyUsage: '2.5.29.15',
  basicConstraints: '2.5.29.19',
  nameConstraints: '2.5.29.30',
  commonName: '2.5.4.3',
  sha1: '1.3.14.3.2.26',
  md5: '1.2.840.113549.2.5',
};

/** Signature algorithms whose hash is broken for certificates (collisions). */
const WEAK_SIGNATURES: Record<string, string> = {
  '1.2.840.113549.1.1.2': 'MD2 with RSA',
  '1.2.840.113549.1.1.3': 'MD4 with RSA',
  '1.2.840.113549.1.1.4': 'MD5 with RSA',
  '1.2.840.113549.1.1.5': 'SHA-1 with RSA',
  '1.3.14.3.2.3': 'MD5 with RSA',
  '1.3.14.3.2.29': 'SHA-1 with RSA',
  '1.2.840.10045.4.1': 'SHA-1 with ECDSA',
  '1.2.840.10040.4.3': 'SHA-1 with DSA',
  '1.3.14.3.2.27': 'SHA-1 with DSA',
  '1.3.14.3.2.13': 'SHA-1 with DSA',
};

/** Named curves of at least 224 bits (CA/B BR 6.1.5 allows P-256, P-384, P-521). */
const GOOD_CURVES: Record<string, string> = {
  '1.3.132.0.33': 'P-224',
  '1.2.840.10045.3.1.7': 'P-256',
  '1.3.132.0.34': 'P-384',
  '1.3.132.0.35': 'P-521',
  '1.3.132.0.10': 'secp256k1',
  '1.3.36.3.3.2.8.1.1.7': 'brainpoolP256r1',
  '1.3.36.3.3.2.8.1.1.11': 'brainpoolP384r1',
  '1.3.36.3.3.2.8.1.1.13': 'brainpoolP512r1',
};

/** Curves under 112 bits of strength, by name for messages. */
const WEAK_CURVES: Record<string, string> = {
  '1.2.840.10045.3.1.1': 'P-192',
  '1.3.132.0.31': 'secp192k1',
  '1.3.132.0.32': 'secp224k1',
  '1.3.132.0.8': 'secp160r1',
  '1.3.132.0.9': 'secp160k1',
  '1.3.132.0.30': 'secp160r2',
  '1.3.132.0.28': 'secp128r1',
  '1.3.132.0.6': 'secp112r1',
};

/** RSA and DSA moduli below this are breakable (CA/B BR 6.1.5, NIST SP 800-131A). */
export const MIN_RSA_BITS = 2048;

function child(buf: Uint8Array, parent: Tlv, index: number): Tlv | undefined {
  const kids = readChildren(buf, parent.start, parent.end);
  return kids?.[index];
}

function oidAt(buf: Uint8Array, tlv: Tlv | undefined): string | undefined {
  return tlv && tlv.tag === OID ? decodeOid(buf, tlv.start, tlv.end) : undefined;
}

function latin1(buf: Uint8Array, tlv: Tlv): string {
  return Buffer.from(buf.subarray(tlv.start, tlv.end)).toString('latin1');
}

/** The fields the policy needs, or undefined when the DER does not have the shape of a certificate. */
export function parseCertificate(der: Uint8Array): ParsedCertificate | undefined {
  const cert = readTlv(der, 0);
  if (!cert || cert.tag !== SEQUENCE) return undefined;
  const top = readChildren(der, cert.start, cert.end);
  if (!top || top.length !== 3 || top[0].tag !== SEQUENCE || top[1].tag !== SEQUENCE) return undefined;
  const tbs = readChildren(der, top[0].start, top[0].end);
  if (!tbs) return undefined;
  let i = tbs[0]?.tag === 0xa0 ? 1 : 0; // [0] EXPLICIT version, absent in v1
  const serial = tbs[i++];
  i++; // signature (checked by OpenSSL to equal the outer one)
  i++; // issuer
  i++; // validity
  const subject = tbs[i++];
  const spki = tbs[i++];
  if (!serial || serial.tag !== INTEGER || !subject || subject.tag !== SEQUENCE || !spki || spki.tag !== SEQUENCE) return undefined;

  const signatureAlgorithm = oidAt(der, child(der, top[1], 0));
  if (!signatureAlgorithm) return undefined;
  const parsed: ParsedCertificate = {
    signatureAlgorithm,
    publicKey: { algorithm: '' },
    dnsNames: [],
    ipAddresses: [],
    sanDisplay: [],
    ca: false,
  };
  if (signatureAlgorithm === OIDS.rsassaPss) parsed.pssHash = pssHash(der, child(der, top[1], 1));

  const key = publicKeyOf(der, spki);
  if (!key) return undefined;
  parsed.publicKey = key;
  parsed.commonName = commonNameOf(der, subject);

  for (; i < tbs.length; i++) {
    if (tbs[i].tag !== 0xa3) continue;
    const list = child(der, tbs[i], 0);
    if (!list || list.tag !== SEQUENCE) return undefined;
    for (const ext of readChildren(der, list.start, list.end) ?? []) {
      const parts = readChildren(der, ext.start, ext.end);
      if (!parts || parts.length < 2) return undefined;
      const id = oidAt(der, parts[0]);
      const value = parts[parts.length - 1];
      if (!id || value.tag !== OCTET_STRING) return undefined;
      if (parts.length === 3 && parts[1].tag !== BOOLEAN) return undefined;
      if (id === OIDS.subjectAltName && !readSan(der, value, parsed)) return undefined;
      if (id === OIDS.keyUsage) {
        const bits = readTlv(der, value.start, value.end);
        if (!bits || bits.tag !== BIT_STRING || bits.end - bits.start < 2) return undefined;
        parsed.keyUsage = (der[bits.start + 1] << 8) | (bits.end - bits.start > 2 ? der[bits.start + 2] : 0);
      }
      if (id === OIDS.basicConstraints) {
        const bc = readTlv(der, value.start, value.end);
        if (!bc || bc.tag !== SEQUENCE) return undefined;
        const first = child(der, bc, 0);
        parsed.ca = !!first && first.tag === BOOLEAN && first.end > first.start && der[first.start] !== 0;
      }
      if (id === OIDS.nameConstraints) {
        const constraints = readDnsConstraints(der, value);
        if (!constraints) return undefined;
        parsed.dnsConstraints = constraints;
      }
    }
  }
  return parsed;
}

/** NameConstraints ::= SEQUENCE { permittedSubtrees [0], excludedSubtrees [1] }, each SEQUENCE OF GeneralSubtree { base GeneralName, ... }. */
function readDnsConstraints(der: Uint8Array, value: Tlv): ParsedCertificate['dnsConstraints'] {
  const nc = readTlv(der, value.start, value.end);
  if (!nc || nc.tag !== SEQUENCE) return undefined;
  const out = { permitted: [] as string[], excluded: [] as string[] };
  for (const subtrees of readChildren(der, nc.start, nc.end) ?? []) {
    const into = subtrees.tag === 0xa0 ? out.permitted : subtrees.tag === 0xa1 ? out.excluded : undefined;
    if (!into) return undefined;
    for (const subtree of readChildren(der, subtrees.start, subtrees.end) ?? []) {
      const base = subtree.tag === SEQUENCE ? child(der, subtree, 0) : undefined;
      if (!base) return undefined;
      if (base.tag === 0x82) into.push(latin1(der, base).toLowerCase());
    }
  }
  return out;
}

function pssHash(der: Uint8Array, params: Tlv | undefined): string | undefined {
  // RSASSA-PSS-params ::= SEQUENCE { hashAlgorithm [0] EXPLICIT AlgorithmIdentifier DEFAULT sha1, ... }
  if (!params || params.tag !== SEQUENCE) return OIDS.sha1;
  const first = child(der, params, 0);
  if (!first || first.tag !== 0xa0) return OIDS.sha1;
  const alg = child(der, first, 0);
  return alg && alg.tag === SEQUENCE ? oidAt(der, child(der, alg, 0)) : undefined;
}

function publicKeyOf(der: Uint8Array, spki: Tlv): ParsedCertificate['publicKey'] | undefined {
  const parts = readChildren(der, spki.start, spki.end);
  if (!parts || parts.length !== 2 || parts[0].tag !== SEQUENCE || parts[1].tag !== BIT_STRING) return undefined;
  const alg = readChildren(der, parts[0].start, parts[0].end);
  const algorithm = oidAt(der, alg?.[0]);
  if (!algorithm) return undefined;
  const params = alg?.[1];
  const key: ParsedCertificate['publicKey'] = { algorithm };
  if (algorithm === OIDS.rsaEncryption || algorithm === OIDS.rsassaPss) {
    // BIT STRING: unused-bits byte, then RSAPublicKey ::= SEQUENCE { modulus INTEGER, publicExponent INTEGER }
    const rsa = readTlv(der, parts[1].start + 1, parts[1].end);
    const modulus = rsa && rsa.tag === SEQUENCE ? readTlv(der, rsa.start, rsa.end) : undefined;
    if (!modulus || modulus.tag !== INTEGER) return undefined;
    key.bits = integerBits(der, modulus.start, modulus.end);
  } else if (algorithm === OIDS.dsa) {
    const p = params && params.tag === SEQUENCE ? readTlv(der, params.start, params.end) : undefined;
    if (p && p.tag === INTEGER) key.bits = integerBits(der, p.start, p.end);
  } else if (algorithm === OIDS.ecPublicKey) {
    if (params?.tag === OID) key.curve = oidAt(der, params);
    else key.explicitCurve = true;
  }
  return key;
}

function commonNameOf(der: Uint8Array, subject: Tlv): string | undefined {
  let cn: string | undefined;
  for (const rdn of readChildren(der, subject.start, subject.end) ?? []) {
    for (const atv of readChildren(der, rdn.start, rdn.end) ?? []) {
      const parts = readChildren(der, atv.start, atv.end);
      if (parts && parts.length === 2 && oidAt(der, parts[0]) === OIDS.commonName) {
        const raw = Buffer.from(der.subarray(parts[1].start, parts[1].end));
        // BMPString is UTF-16BE; every other string type is shown as UTF-8.
        cn = parts[1].tag === 0x1e && raw.length % 2 === 0 ? raw.swap16().toString('utf16le') : raw.toString('utf8');
      }
    }
  }
  return cn;
}

function readSan(der: Uint8Array, value: Tlv, into: ParsedCertificate): boolean {
  const names = readTlv(der, value.start, value.end);
  if (!names || names.tag !== SEQUENCE) return false;
  const entries = readChildren(der, names.start, names.end);
  if (!entries) return false;
  for (const entry of entries) {
    if (entry.tag === 0x82) {
      const name = latin1(der, entry);
      into.dnsNames.push(name);
      into.sanDisplay.push(name);
    } else if (entry.tag === 0x87) {
      const address = der.subarray(entry.start, entry.end);
      into.ipAddresses.push(address);
      into.sanDisplay.push(formatIp(address));
    }
  }
  return true;
}

/** RFC 5952 text of a 4- or 16-octet address (anything else is shown in hex). */
export function formatIp(bytes: Uint8Array): string {
  if (bytes.length === 4) return Array.from(bytes).join('.');
  if (bytes.length !== 16) return `(${Buffer.from(bytes).toString('hex')})`;
  const groups: number[] = [];
  for (let k = 0; k < 16; k += 2) groups.push((bytes[k] << 8) | bytes[k + 1]);
  // The longest run of two or more zero groups becomes "::" (the first one on a tie).
  let best = -1;
  let bestLength = 1;
  for (let k = 0; k < 8; ) {
    if (groups[k] !== 0) {
      k++;
      continue;
    }
    let end = k;
    while (end < 8 && groups[end] === 0) end++;
    if (end - k > bestLength) {
      best = k;
      bestLength = end - k;
    }
    k = end;
  }
  const hex = groups.map((g) => g.toString(16));
  if (best < 0) return hex.join(':');
  return `${hex.slice(0, best).join(':')}::${hex.slice(best + bestLength).join(':')}`;
}

/** The octets of an IPv4 or IPv6 literal, or undefined (zone identifiers never match a certificate). */
export function parseIp(text: string): Uint8Array | undefined {
  const v4 = (s: string): number[] | undefined => {
    const parts = s.split('.');
    if (parts.length !== 4 || !parts.every((p) => /^(0|[1-9][0-9]{0,2})$/.test(p) && Number(p) <= 255)) return undefined;
    return parts.map(Number);
  };
  if (!text.includes(':')) {
    const bytes = v4(text);
    return bytes && Uint8Array.from(bytes);
  }
  if (!/^[0-9A-Fa-f:.]+$/.test(text)) return undefined;
  const halves = text.split('::');
  if (halves.length > 2) return undefined;
  const groupsOf = (s: string, last: boolean): number[] | undefined => {
    if (s === '') return [];
    const out: number[] = [];
    const parts = s.split(':');
    for (let k = 0; k < parts.length; k++) {
      const p = parts[k];
      if (last && k === parts.length - 1 && p.includes('.')) {
        const b = v4(p);
        if (!b) return undefined;
        out.push((b[0] << 8) | b[1], (b[2] << 8) | b[3]);
      } else if (/^[0-9A-Fa-f]{1,4}$/.test(p)) {
        out.push(parseInt(p, 16));
      } else {
        return undefined;
      }
    }
    return out;
  };
  const head = groupsOf(halves[0], halves.length === 1);
  const tail = halves.length === 2 ? groupsOf(halves[1], true) : [];
  if (!head || !tail) return undefined;
  const missing = 8 - head.length - tail.length;
  if (halves.length === 2 ? missing < 1 : missing !== 0) return undefined;
  const groups = [...head, ...new Array<number>(missing).fill(0), ...tail];
  const bytes = new Uint8Array(16);
  groups.forEach((g, k) => {
    bytes[2 * k] = g >> 8;
    bytes[2 * k + 1] = g & 0xff;
  });
  return bytes;
}

/**
 * RFC 9525 section 6.3 (and RFC 6125 section 6.4) with the CA/Browser Forum
 * profile: case-insensitive comparison of LDH labels; a wildcard only as the
 * whole left-most label, standing for exactly one non-empty label, and only
 * above at least two more labels ("*.com" never matches); no partial
 * wildcards ("w*.example.com", "xn--*"); a presented name must be in the
 * preferred name syntax (no trailing dot, no empty label, printable ASCII).
 * `host` is already lower case and without its trailing dot.
 */
export function dnsNameMatches(presented: string, host: string): boolean {
  if (!/^[\x21-\x7e]+$/.test(presented)) return false;
  const pattern = presented.toLowerCase();
  const labels = pattern.split('.');
  if (labels.some((l) => l === '')) return false;
  const hostLabels = host.split('.');
  if (!pattern.includes('*')) return pattern === host;
  if (labels[0] !== '*' || labels.slice(1).some((l) => l.includes('*'))) return false;
  if (labels.length < 3 || hostLabels.length !== labels.length) return false;
  return hostLabels[0] !== '' && hostLabels.slice(1).join('.') === labels.slice(1).join('.');
}

function listNames(names: string[]): string {
  const shown = names.slice(0, 12).map((n) => oneLine(n));
  return names.length > shown.length ? `${shown.join(', ')} and ${names.length - shown.length} more` : shown.join(', ');
}

export class NameMismatch extends Error {
  readonly code = 'HOSTNAME_MISMATCH';
}

export class PolicyFailure extends Error {
  readonly code = 'VERIFICATION_FAILURE';
}

const UNPARSABLE = 'certificate verification failed: the server certificate cannot be parsed';

/** Undefined when the leaf is valid for `wanted`, else the error that says why not. */
export function checkName(wanted: ServerName, leafDer: Uint8Array): Error | undefined {
  const leaf = parseCertificate(leafDer);
  if (!leaf) return new PolicyFailure(UNPARSABLE);
  const shownName = wanted.kind === 'dns' ? wanted.name : wanted.address;
  if (wanted.kind === 'ip') {
    const bytes = parseIp(wanted.address);
    if (bytes && leaf.ipAddresses.some((a) => a.length === bytes.length && a.every((b, k) => b === bytes[k]))) return undefined;
  } else {
    const host = wanted.name.toLowerCase().replace(/\.$/, '');
    if (leaf.dnsNames.some((n) => dnsNameMatches(n, host))) return undefined;
  }
  if (leaf.sanDisplay.length > 0) {
    return new NameMismatch(`hostname mismatch: ${shownName}: certificate is valid for ${listNames(leaf.sanDisplay)}`);
  }
  const cn = leaf.commonName !== undefined ? ` (its common name ${oneLine(leaf.commonName)} is not used for name checks)` : '';
  return new NameMismatch(`hostname mismatch: ${shownName}: certificate has no DNS or IP subject alternative name${cn}`);
}

function describeHolder(cert: ParsedCertificate, isLeaf: boolean): string {
  if (isLeaf || cert.commonName === undefined) return '';
  return `: "${oneLine(cert.commonName).slice(0, 80)}"`;
}

/** Key strength: RSA/DSA at least 2048 bits, EC on a named curve of at least 224 bits. */
function keyProblem(cert: ParsedCertificate): string | undefined {
  const key = cert.publicKey;
  const family = key.algorithm === OIDS.dsa ? 'DSA' : 'RSA';
  if (key.bits !== undefined && key.bits < MIN_RSA_BITS) return `key is too small (${family} ${key.bits} bits, at least ${MIN_RSA_BITS} needed)`;
  if (key.algorithm === OIDS.ecPublicKey) {
    if (key.explicitCurve) return 'key uses explicit elliptic curve parameters (RFC 5480 allows named curves only)';
    if (key.curve && WEAK_CURVES[key.curve]) return `key is on a weak elliptic curve (${WEAK_CURVES[key.curve]})`;
    if (!key.curve || !GOOD_CURVES[key.curve]) return `key is on an unknown elliptic curve (${key.curve ?? 'none'})`;
  }
  return undefined;
}

function signatureProblem(cert: ParsedCertificate): string | undefined {
  const weak = WEAK_SIGNATURES[cert.signatureAlgorithm];
  if (weak) return `signature algorithm is too weak (${weak})`;
  if (cert.signatureAlgorithm === OIDS.rsassaPss && (cert.pssHash === undefined || cert.pssHash === OIDS.sha1 || cert.pssHash === OIDS.md5)) {
    return `signature algorithm is too weak (RSA-PSS with ${cert.pssHash === OIDS.md5 ? 'MD5' : 'SHA-1'})`;
  }
  return undefined;
}

const KU_DIGITAL_SIGNATURE = 0x8000;
const KU_KEY_ENCIPHERMENT = 0x2000;

/**
 * A server key must be allowed to do what TLS asks of it when keyUsage is
 * present (RFC 5280 4.2.1.3): sign (RFC 8446 4.4.2.2 for TLS 1.3, and every
 * ECDHE/DHE suite), or, for RSA key exchange in TLS 1.2 and older, encipher.
 * OpenSSL 3.0 does not check it in TLS 1.3. This check does not know the
 * negotiated suite, so an RSA key with keyEncipherment alone passes.
 */
function leafUsageProblem(cert: ParsedCertificate): string | undefined {
  if (cert.keyUsage === undefined || cert.keyUsage & KU_DIGITAL_SIGNATURE) return undefined;
  if (cert.publicKey.algorithm === OIDS.rsaEncryption) {
    if (cert.keyUsage & KU_KEY_ENCIPHERMENT) return undefined;
    return 'certificate key usage allows neither signing nor key encipherment (keyUsage lacks digitalSignature and keyEncipherment)';
  }
  return 'certificate key usage does not allow signing (keyUsage lacks digitalSignature)';
}

/** The DNS names a wildcard "*.rest" stands for, "x.rest", fall in subtree `c` (RFC 5280 4.2.1.10, OpenSSL's leading-dot form too)? */
function someMatchWithin(rest: string, c: string): boolean {
  if (c === '') return true;
  if (c.startsWith('.')) return within(rest, c.slice(1));
  // "x.rest" is c itself for one label x, or lies under c when rest does.
  return within(rest, c) || (c.endsWith(`.${rest}`) && !c.slice(0, -rest.length - 1).includes('.'));
}

/** Every name "x.rest" falls in subtree `c`? */
function allMatchesWithin(rest: string, c: string): boolean {
  if (c === '') return true;
  return within(rest, c.startsWith('.') ? c.slice(1) : c);
}

/** `name` is `domain` or one of its subdomains. */
function within(name: string, domain: string): boolean {
  return name === domain || name.endsWith(`.${domain}`);
}

/**
 * OpenSSL checks a wildcard dNSName against name constraints as the string
 * it is: "*.corp.test" is not under an excluded "secret.corp.test", so a CA
 * that excludes secret.corp.test could still issue a certificate valid for
 * it. As Chromium and Go do, a wildcard is refused when any name it stands
 * for is excluded by a CA of the path, or not permitted by one that permits
 * DNS names.
 */
function wildcardConstraintProblem(leaf: ParsedCertificate, cas: ParsedCertificate[]): string | undefined {
  for (const name of leaf.dnsNames) {
    const labels = name.toLowerCase().split('.');
    if (labels[0] !== '*' || labels.length < 2) continue;
    const rest = labels.slice(1).join('.');
    for (const ca of cas) {
      const nc = ca.dnsConstraints;
      if (!nc) continue;
      const excluded = nc.excluded.find((c) => someMatchWithin(rest, c));
      if (excluded !== undefined) {
        return `certificate name ${oneLine(name)} stands for names the issuer's name constraints exclude (${oneLine(excluded)})${describeHolder(ca, false)}`;
      }
      if (nc.permitted.length > 0 && !nc.permitted.some((c) => allMatchesWithin(rest, c))) {
        return `certificate name ${oneLine(name)} stands for names outside the issuer's permitted names (name constraints)${describeHolder(ca, false)}`;
      }
    }
  }
  return undefined;
}

/**
 * The policy on the path OpenSSL verified (src/trust/path.ts makes sure it is
 * one), leaf first, anchor last. Every key counts, the anchor's too (a weak
 * anchor key makes every signature under it forgeable); every signature
 * counts except the anchor's own: it is trusted as configured, not for its
 * signature (RFC 5280 section 6.1.1 (d)), as OpenSSL's security levels do.
 * A leaf that is a CA (basicConstraints cA TRUE) is refused unless it is a
 * trust anchor itself (a self-signed server certificate given as CAFILE):
 * its key could issue certificates for any name (CA/B BR 7.1.2.7.8 forbids
 * it; Firefox refuses it too).
 */
export function checkChain(leaf: PeerCertificate, anchors: TrustAnchors): Error | undefined {
  const path = certificationPath(leaf, anchors);
  if (path instanceof Error) return new PolicyFailure(`certificate verification failed: ${path.message}`);
  const chain = path.certificates;
  const parsed: ParsedCertificate[] = [];
  for (let k = 0; k < chain.length; k++) {
    const cert = parseCertificate(chain[k]);
    if (!cert) return new PolicyFailure(k === 0 ? UNPARSABLE : 'certificate verification failed: a CA certificate of the chain cannot be parsed');
    parsed.push(cert);
    const prefix = k === 0 ? 'certificate' : 'CA certificate';
    const key = keyProblem(cert);
    if (key) return new PolicyFailure(`certificate verification failed: ${prefix} ${key}${describeHolder(cert, k === 0)}`);
    const sig = k < chain.length - 1 ? signatureProblem(cert) : undefined;
    if (sig) return new PolicyFailure(`certificate verification failed: ${prefix} ${sig}${describeHolder(cert, k === 0)}`);
    const usage = k === 0 ? leafUsageProblem(cert) : undefined;
    if (usage) return new PolicyFailure(`certificate verification failed: ${usage}`);
  }
  if (chain.length > 1 && parsed[0].ca) {
    return new PolicyFailure('certificate verification failed: the server certificate is a CA certificate (basicConstraints CA:TRUE), not an end-entity one');
  }
  const constraint = wildcardConstraintProblem(parsed[0], parsed.slice(1));
  if (constraint) return new PolicyFailure(`certificate verification failed: ${constraint}`);
  return undefined;
}
