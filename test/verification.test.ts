// Certificate verification corpus, end to end: every row runs the real
// program against a real TLS server that presents the row's chain, and
// states what a careful client must do and why (RFC 5280 for paths, RFC 9525
// and RFC 6125 for names, the CA/Browser Forum Baseline Requirements for
// what the Web PKI allows). Rows marked `differs` are those where OpenSSL's
// verdict at @SECLEVEL=0 (needed for TLS 1.0/1.1) or Node's
// checkServerIdentity is not what a careful client should do; src/trust/policy.ts
// makes the program do the right thing there.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, Server, SecureVersion } from 'tls';
import { once } from 'events';
import type { Socket } from 'net';
import { Pki, Cert, CertOptions, daysFromNow } from './helpers/pki';
import { runWithSocket } from './helpers/harness';
import { checkName, dnsNameMatches, formatIp, parseCertificate, parseIp } from '../src/trust/policy';
import { readFileSync } from 'fs';

type Spec = Omit<CertOptions, 'issuer'> & { issuer?: string };

const MAIN_NAMES = { dns: ['www.example.test', 'alt.example.test'], ip: ['127.0.0.1', '::1'] };
const CA = (cn: string, issuer?: string, more: Spec = {}): Spec => ({ ca: true, cn, issuer, ...more });
const LEAF = (issuer: string, more: Spec = {}): Spec => ({ issuer, dns: ['www.example.test'], ...more });
const CRITICAL_UNKNOWN = '1.3.6.1.4.1.55555.1 = critical, ASN1:UTF8String:must be understood';

// Made in this order, once, in before(): an issuer comes before what it signs.
const SPECS: [string, Spec][] = [
  ['root', CA('Corpus Root')],
  ['i1', CA('Corpus Inter 1', 'root')],
  ['i2', CA('Corpus Inter 2', 'i1')],
  ['i3', CA('Corpus Inter 3', 'i2')],
  ['otherRoot', CA('Other Root')],
  ['forgedRoot', CA('Corpus Root')], // same name as root, another key
  ['rootRsa', CA('Corpus RSA Root', undefined, { keyType: 'rsa2048' })],
  // chains of depth 1 to 4
  ['leafD1', LEAF('root', { cn: 'cn.example.test', ...MAIN_NAMES })],
  ['leafD2', LEAF('i1')],
  ['leafD3', LEAF('i2')],
  ['leafD4', LEAF('i3')],
  // trust
  ['leafOther', LEAF('otherRoot')],
  ['leafForged', LEAF('forgedRoot')],
  ['selfSigned', { dns: ['www.example.test'], keyUsage: 'digitalSignature, keyCertSign' }],
  // validity
  ['leafExpired', LEAF('root', { notBefore: daysFromNow(-30), notAfter: daysFromNow(-1) })],
  ['leafNotYet', LEAF('root', { notBefore: daysFromNow(1), notAfter: daysFromNow(30) })],
  ['iExpired', CA('Expired Inter', 'root', { notBefore: daysFromNow(-30), notAfter: daysFromNow(-1) })],
  ['leafUnderExpired', LEAF('iExpired')],
  ['rootExpired', CA('Expired Root', undefined, { notBefore: daysFromNow(-30), notAfter: daysFromNow(-1) })],
  ['leafUnderExpiredRoot', LEAF('rootExpired')],
  // CA flags and key usage of issuers
  ['iCaFalse', { cn: 'CA:FALSE Inter', issuer: 'root', keyUsage: 'digitalSignature, keyCertSign', eku: 'none' }],
  ['leafUnderCaFalse', LEAF('iCaFalse')],
  ['leafIssuer', LEAF('root', { dns: ['issuer.example.test'] })],
  ['leafUnderLeaf', LEAF('leafIssuer')],
  ['iNoBc', CA('No basicConstraints Inter', 'root', { omitBasicConstraints: true, keyUsage: 'keyCertSign, cRLSign' })],
  ['leafUnderNoBc', LEAF('iNoBc')],
  ['iNoKu', CA('No keyUsage Inter', 'root', { keyUsage: 'none' })],
  ['leafUnderNoKu', LEAF('iNoKu')],
  ['iKuNoCertSign', CA('No keyCertSign Inter', 'root', { keyUsage: 'digitalSignature, cRLSign' })],
  ['leafUnderKuNoCertSign', LEAF('iKuNoCertSign')],
  // path length
  ['rootPl0', CA('Root pathlen 0', undefined, { pathlen: 0 })],
  ['leafUnderRootPl0', LEAF('rootPl0')],
  ['iUnderRootPl0', CA('Inter under pathlen 0', 'rootPl0')],
  ['leafUnderIUnderRootPl0', LEAF('iUnderRootPl0')],
  ['rootPl1', CA('Root pathlen 1', undefined, { pathlen: 1 })],
  ['iPl1a', CA('Inter A under pathlen 1', 'rootPl1')],
  ['iPl1b', CA('Inter B under pathlen 1', 'iPl1a')],
  ['leafUnderPl1a', LEAF('iPl1a')],
  ['leafUnderPl1b', LEAF('iPl1b')],
  ['iPl0', CA('Inter pathlen 0', 'root', { pathlen: 0 })],
  ['leafUnderIPl0', LEAF('iPl0')],
  ['iUnderIPl0', CA('Inter under inter pathlen 0', 'iPl0')],
  ['leafUnderIUnderIPl0', LEAF('iUnderIPl0')],
  // name constraints
  ['iNcDns', CA('Permitted example.test', 'root', { extraExtensions: ['nameConstraints = critical, permitted;DNS:example.test'] })],
  ['ncDnsOk', LEAF('iNcDns')],
  ['ncDnsOut', LEAF('iNcDns', { dns: ['www.other.test'] })],
  ['ncDnsLabel', LEAF('iNcDns', { dns: ['www.notexample.test'] })],
  ['ncDnsWild', LEAF('iNcDns', { dns: ['*.example.test'] })],
  ['ncDnsIp', LEAF('iNcDns', { ip: ['10.9.9.9'] })],
  ['iNcExcl', CA('Excluded bad.example.test', 'root', { extraExtensions: ['nameConstraints = critical, excluded;DNS:bad.example.test'] })],
  ['ncExclSame', LEAF('iNcExcl', { dns: ['bad.example.test'] })],
  ['ncExclSub', LEAF('iNcExcl', { dns: ['x.bad.example.test'] })],
  ['ncExclNot', LEAF('iNcExcl', { dns: ['notbad.example.test'] })],
  ['iNcExclSecret', CA('Excluded secret.corp.test', 'root', { extraExtensions: ['nameConstraints = critical, excluded;DNS:secret.corp.test'] })],
  ['ncWildOverExcl', LEAF('iNcExclSecret', { dns: ['*.corp.test'] })],
  ['ncWildBesideExcl', LEAF('iNcExclSecret', { dns: ['*.other.corp.test'] })],
  ['iNcPermWww', CA('Permitted www.corp.test', 'root', { extraExtensions: ['nameConstraints = critical, permitted;DNS:www.corp.test'] })],
  ['ncWildOverPerm', LEAF('iNcPermWww', { dns: ['*.corp.test'] })],
  ['iNcIp', CA('Permitted 127/8', 'root', { extraExtensions: ['nameConstraints = critical, permitted;IP:127.0.0.0/255.0.0.0'] })],
  ['ncIpOk', LEAF('iNcIp', { dns: [], ip: ['127.0.0.1'] })],
  ['ncIpOut', LEAF('iNcIp', { dns: [], ip: ['10.1.2.3'] })],
  ['iNcIpExcl', CA('Excluded 10/8 and fd00::/8', 'root', {
    extraExtensions: ['nameConstraints = critical, excluded;IP:10.0.0.0/255.0.0.0, excluded;IP:fd00::/ff00::'],
  })],
  ['ncIpExcl4', LEAF('iNcIpExcl', { dns: [], ip: ['10.1.2.3'] })],
  ['ncIpExcl6', LEAF('iNcIpExcl', { dns: [], ip: ['fd00::1'] })],
  ['ncIpExclOk', LEAF('iNcIpExcl', { dns: [], ip: ['192.0.2.1', '2001:db8::1'] })],
  // purpose and key usage of the leaf
  ['leafClientAuth', LEAF('root', { eku: 'clientAuth' })],
  ['leafNoEku', LEAF('root', { eku: 'none' })],
  ['leafAnyEku', LEAF('root', { eku: 'anyExtendedKeyUsage' })],
  ['iClientAuth', CA('clientAuth-only Inter', 'root', { extraExtensions: ['extendedKeyUsage = clientAuth'] })],
  ['leafUnderClientAuthCa', LEAF('iClientAuth')],
  ['leafNoKu', LEAF('root', { keyUsage: 'none' })],
  ['leafKuKeyEnc', LEAF('root', { keyUsage: 'keyEncipherment' })],
  ['leafCaTrue', LEAF('root', { ca: true })],
  ['selfSignedCaLeaf', { ca: true, dns: ['www.example.test'] }],
  // extensions
  ['leafCritUnknown', LEAF('root', { extraExtensions: [CRITICAL_UNKNOWN] })],
  ['leafNoncritUnknown', LEAF('root', { extraExtensions: ['1.3.6.1.4.1.55555.2 = ASN1:UTF8String:may be ignored'] })],
  ['iCritUnknown', CA('Critical unknown Inter', 'root', { extraExtensions: [CRITICAL_UNKNOWN] })],
  ['leafUnderCritUnknown', LEAF('iCritUnknown')],
  // keys
  ['leafRsa1024', LEAF('root', { keyType: 'rsa1024' })],
  ['leafRsa2048', LEAF('root', { keyType: 'rsa2048' })],
  ['leafEd25519', LEAF('root', { keyType: 'ed25519' })],
  ['iRsa1024', CA('RSA-1024 Inter', 'root', { keyType: 'rsa1024' })],
  ['leafUnderRsa1024', LEAF('iRsa1024')],
  ['rootRsa1024', CA('RSA-1024 Root', undefined, { keyType: 'rsa1024' })],
  ['leafUnderRootRsa1024', LEAF('rootRsa1024')],
  ['iP192', CA('P-192 Inter', 'root', { curve: 'P-192' })],
  ['leafUnderP192', LEAF('iP192')],
  // signature hashes
  ['leafSha1Ecdsa', LEAF('root', { md: 'sha1' })],
  ['leafSha1Rsa', LEAF('rootRsa', { md: 'sha1' })],
  ['leafMd5Rsa', LEAF('rootRsa', { md: 'md5' })],
  ['leafSha384Rsa', LEAF('rootRsa', { md: 'sha384' })],
  ['iSha1', CA('SHA-1 Inter', 'root', { md: 'sha1' })],
  ['leafUnderSha1', LEAF('iSha1')],
  ['rootSha1', CA('SHA-1 self-signed Root', undefined, { md: 'sha1' })],
  ['leafUnderRootSha1', LEAF('rootSha1')],
  // names
  ['leafUpper', LEAF('root', { dns: ['WWW.Upper.Example.TEST'] })],
  ['leafDotSan', LEAF('root', { dns: ['www.dot.example.test.'] })],
  ['leafWild', LEAF('root', { dns: ['*.wild.example.test'] })],
  ['leafWildAB', LEAF('root', { dns: ['*.a.b'] })],
  ['leafWildTld', LEAF('root', { dns: ['*.test'] })],
  ['leafPartial', LEAF('root', { dns: ['w*.example.test'] })],
  ['leafAStarB', LEAF('root', { dns: ['a*.b'] })],
  ['leafStarDot', LEAF('root', { dns: ['*.'] })],
  ['leafStarAlone', LEAF('root', { dns: ['*'] })],
  ['leafStarMid', LEAF('root', { dns: ['www.*.example.test'] })],
  ['leafDoubleStar', LEAF('root', { dns: ['*.*.example.test'] })],
  ['leafIdn', LEAF('root', { dns: ['xn--caf-dma.example.test'] })],
  ['leafIdnWild', LEAF('root', { dns: ['xn--*.example.test'] })],
  ['leafCnOnly', LEAF('root', { cn: 'www.cn.example.test', dns: [] })],
  ['leafCnAndIp', LEAF('root', { cn: 'www.cnip.example.test', dns: [], ip: ['127.0.0.1'] })],
  ['leafIpInDns', LEAF('root', { dns: ['127.0.0.1'] })],
  ['leafIpv6', LEAF('root', { dns: [], ip: ['2001:db8::1'] })],
];

interface Row {
  what: string;
  leaf: string;
  /** the certificates the server sends after its leaf */
  send?: string[];
  /** trust anchors (CAFILE); root when absent */
  anchors?: string[];
  /** -k operand; null for none; www.example.test when absent */
  k?: string | null;
  args?: string[];
  maxVersion?: SecureVersion;
  /** 'accept', or the words after "fatal: " */
  expect: 'accept' | string;
  why: string;
  /** where OpenSSL's or Node's own verdict is not this one, and what the program does instead */
  differs?: string;
}

const V = (words: string): string => `certificate verification failed: ${words}`;
const MISSING_ISSUER = V('certificate issuer is unknown: not a trust anchor, and not sent by the server (missing intermediate certificate?)');
const NOT_CA = V('certificate chain contains an issuer that is not a CA');
const PATHLEN = V('certificate chain is longer than a CA allows (path length constraint)');
const PURPOSE = V('certificate chain is not valid for TLS server authentication (an extended key usage without serverAuth, or an issuer that is not a CA)');
const NO_CERT_SIGN = V("an issuer's key usage does not allow signing certificates (keyCertSign missing)");
const mismatch = (name: string, valid: string): string => `hostname mismatch: ${name}: certificate is valid for ${valid}`;
const MAIN_VALID = 'www.example.test, alt.example.test, 127.0.0.1, ::1';
const WILD_EXCLUDED = V('certificate name *.corp.test stands for names the issuer\'s name constraints exclude (secret.corp.test): "Excluded secret.corp.test"');
const SECLEVEL0 = 'OpenSSL at @SECLEVEL=0 (used when TLS 1.0/1.1 are asked for: the row runs with --min-protocol=TLSv1) accepts it; src/trust/policy.ts rejects it';

const ROWS: Row[] = [
  // --- chains of depth 1 to 4 (RFC 5280 section 6.1) ---
  { what: 'depth 1: leaf signed by the anchor', leaf: 'leafD1', expect: 'accept', why: 'RFC 5280 6.1: a valid path from a trust anchor' },
  { what: 'depth 2: one intermediate sent', leaf: 'leafD2', send: ['i1'], expect: 'accept', why: 'RFC 5280 6.1; RFC 8446 4.4.2: the server sends its intermediates' },
  { what: 'depth 3: two intermediates sent', leaf: 'leafD3', send: ['i2', 'i1'], expect: 'accept', why: 'RFC 5280 6.1' },
  { what: 'depth 4: three intermediates sent', leaf: 'leafD4', send: ['i3', 'i2', 'i1'], expect: 'accept', why: 'RFC 5280 6.1' },
  { what: 'depth 4 ending at an intermediate anchor', leaf: 'leafD4', send: ['i3', 'i2', 'i1'], anchors: ['i2'], expect: 'accept', why: 'SPEC 3: any CA may be a trust anchor; the path below it is fully verified (RFC 5280 6.1.1 (d))' },
  { what: 'depth 4 with the middle intermediate missing', leaf: 'leafD4', send: ['i3', 'i1'], expect: MISSING_ISSUER, why: 'RFC 5280 6.1: no path without i2' },
  { what: 'missing intermediate: the server sends only its leaf', leaf: 'leafD2', send: [], expect: MISSING_ISSUER, why: 'RFC 5280 6.1: the issuer is neither sent nor a trust anchor (no AIA fetching)' },
  // --- trust ---
  { what: 'untrusted issuer, not sent', leaf: 'leafOther', expect: MISSING_ISSUER, why: 'RFC 5280 6.1: the path must start at a trust anchor' },
  { what: 'untrusted root sent by the server', leaf: 'leafOther', send: ['otherRoot'], expect: V('certificate chain ends at a self-signed certificate that is not a trust anchor'), why: 'RFC 5280 6.1: a root the server sends is not a trust anchor' },
  { what: 'self-signed leaf', leaf: 'selfSigned', expect: V('certificate is self-signed and not a trust anchor'), why: 'RFC 5280 6.1: not a trust anchor' },
  { what: 'issuer with the anchor\'s name but another key', leaf: 'leafForged', expect: MISSING_ISSUER, why: 'RFC 5280 6.1.3 (a)(1): the signature must verify with the anchor\'s key; names alone prove nothing' },
  // --- validity ---
  { what: 'expired leaf', leaf: 'leafExpired', expect: V('certificate has expired'), why: 'RFC 5280 6.1.3 (a)(2)' },
  { what: 'leaf not yet valid', leaf: 'leafNotYet', expect: V('certificate is not yet valid'), why: 'RFC 5280 6.1.3 (a)(2)' },
  { what: 'expired intermediate', leaf: 'leafUnderExpired', send: ['iExpired'], expect: V('certificate has expired'), why: 'RFC 5280 6.1.3 (a)(2) holds for every certificate of the path' },
  { what: 'expired trust anchor', leaf: 'leafUnderExpiredRoot', anchors: ['rootExpired'], expect: V('certificate has expired'), why: 'RFC 5280 6.1 leaves anchor validity to the client; OpenSSL (and RFC 5937) refuse an expired anchor, the safe choice' },
  // --- CA flags ---
  { what: 'leaf signed by a CA:FALSE intermediate (keyCertSign set)', leaf: 'leafUnderCaFalse', send: ['iCaFalse'], expect: PURPOSE, why: 'RFC 5280 6.1.4 (k): every issuer must have basicConstraints cA TRUE (OpenSSL finds it in its purpose check of the issuer, hence the words)' },
  { what: 'leaf signed by another server\'s leaf', leaf: 'leafUnderLeaf', send: ['leafIssuer'], expect: NO_CERT_SIGN, why: 'RFC 5280 6.1.4 (k) and (n): an end-entity certificate (CA:FALSE, no keyCertSign) cannot issue' },
  { what: 'intermediate without basicConstraints', leaf: 'leafUnderNoBc', send: ['iNoBc'], expect: NOT_CA, why: 'RFC 5280 6.1.4 (k): a v3 issuer without basicConstraints is not a CA' },
  { what: 'intermediate without keyUsage', leaf: 'leafUnderNoKu', send: ['iNoKu'], expect: 'accept', why: 'RFC 5280 6.1.4 (n) only checks keyCertSign when keyUsage is present (4.2.1.3 requires it of CAs, not of validators); browsers accept it too' },
  { what: 'intermediate whose keyUsage lacks keyCertSign', leaf: 'leafUnderKuNoCertSign', send: ['iKuNoCertSign'], expect: NO_CERT_SIGN, why: 'RFC 5280 6.1.4 (n): a present keyUsage must allow keyCertSign' },
  // --- path length ---
  { what: 'pathlen 0 anchor signing the leaf', leaf: 'leafUnderRootPl0', anchors: ['rootPl0'], expect: 'accept', why: 'RFC 5280 4.2.1.9: pathLenConstraint counts intermediates only' },
  { what: 'pathlen 0 anchor above an intermediate', leaf: 'leafUnderIUnderRootPl0', send: ['iUnderRootPl0'], anchors: ['rootPl0'], expect: PATHLEN, why: 'RFC 5280 4.2.1.9, 6.1.4 (m); OpenSSL enforces anchor constraints too (RFC 5937)' },
  { what: 'pathlen 1 anchor, one intermediate', leaf: 'leafUnderPl1a', send: ['iPl1a'], anchors: ['rootPl1'], expect: 'accept', why: 'RFC 5280 4.2.1.9' },
  { what: 'pathlen 1 anchor, two intermediates', leaf: 'leafUnderPl1b', send: ['iPl1b', 'iPl1a'], anchors: ['rootPl1'], expect: PATHLEN, why: 'RFC 5280 4.2.1.9, 6.1.4 (l)/(m)' },
  { what: 'pathlen 0 intermediate signing the leaf', leaf: 'leafUnderIPl0', send: ['iPl0'], expect: 'accept', why: 'RFC 5280 4.2.1.9' },
  { what: 'pathlen 0 intermediate above another intermediate', leaf: 'leafUnderIUnderIPl0', send: ['iUnderIPl0', 'iPl0'], expect: PATHLEN, why: 'RFC 5280 6.1.4 (l)/(m)' },
  // --- name constraints ---
  { what: 'permitted DNS subtree: name inside', leaf: 'ncDnsOk', send: ['iNcDns'], expect: 'accept', why: 'RFC 5280 4.2.1.10: "example.test" permits itself and every subdomain' },
  { what: 'permitted DNS subtree: name outside', leaf: 'ncDnsOut', send: ['iNcDns'], k: 'www.other.test', expect: V("certificate name is outside the issuer's permitted names (name constraints)"), why: 'RFC 5280 4.2.1.10, 6.1.3 (b)' },
  { what: 'permitted DNS subtree: suffix without a label boundary', leaf: 'ncDnsLabel', send: ['iNcDns'], k: 'www.notexample.test', expect: V("certificate name is outside the issuer's permitted names (name constraints)"), why: 'RFC 5280 4.2.1.10: subtrees are whole labels, "notexample.test" is not under "example.test"' },
  { what: 'permitted DNS subtree: wildcard inside', leaf: 'ncDnsWild', send: ['iNcDns'], k: 'x.example.test', expect: 'accept', why: 'RFC 5280 4.2.1.10; RFC 9525 6.3' },
  { what: 'permitted DNS subtree only: an IP name is not constrained', leaf: 'ncDnsIp', send: ['iNcDns'], k: '10.9.9.9', expect: 'accept', why: 'RFC 5280 4.2.1.10: a constraint restricts names of its own type only (CA/B BR 7.1.2.5.2 asks CAs to constrain both, validators follow RFC 5280)' },
  { what: 'excluded DNS subtree: the name itself', leaf: 'ncExclSame', send: ['iNcExcl'], k: 'bad.example.test', expect: V("certificate name is excluded by the issuer's name constraints"), why: 'RFC 5280 4.2.1.10, 6.1.3 (c)' },
  { what: 'excluded DNS subtree: a subdomain', leaf: 'ncExclSub', send: ['iNcExcl'], k: 'x.bad.example.test', expect: V("certificate name is excluded by the issuer's name constraints"), why: 'RFC 5280 4.2.1.10' },
  { what: 'excluded DNS subtree: a name that only ends the same', leaf: 'ncExclNot', send: ['iNcExcl'], k: 'notbad.example.test', expect: 'accept', why: 'RFC 5280 4.2.1.10: label boundaries' },
  { what: 'wildcard standing for an excluded name, asked for that name', leaf: 'ncWildOverExcl', send: ['iNcExclSecret'], k: 'secret.corp.test', expect: WILD_EXCLUDED, why: 'RFC 5280 4.2.1.10: the excluded name must not be certified; Chromium and Go refuse a wildcard that covers it', differs: 'OpenSSL compares "*.corp.test" with the subtree as a string and accepts; the program refuses' },
  { what: 'wildcard standing for an excluded name, asked for another name', leaf: 'ncWildOverExcl', send: ['iNcExclSecret'], k: 'www.corp.test', expect: WILD_EXCLUDED, why: 'the certificate itself breaks the constraint, whatever name is asked for (Chromium, Go)', differs: 'OpenSSL accepts; the program refuses' },
  { what: 'wildcard beside an excluded name', leaf: 'ncWildBesideExcl', send: ['iNcExclSecret'], k: 'x.other.corp.test', expect: 'accept', why: 'RFC 5280 4.2.1.10: no name "*.other.corp.test" stands for is under secret.corp.test' },
  { what: 'wildcard wider than the permitted name', leaf: 'ncWildOverPerm', send: ['iNcPermWww'], k: 'www.corp.test', expect: V("certificate name is outside the issuer's permitted names (name constraints)"), why: 'RFC 5280 4.2.1.10: x.corp.test is not within www.corp.test' },
  { what: 'permitted IPv4 subtree: address inside', leaf: 'ncIpOk', send: ['iNcIp'], k: '127.0.0.1', expect: 'accept', why: 'RFC 5280 4.2.1.10 (address and mask)' },
  { what: 'permitted IPv4 subtree: address outside', leaf: 'ncIpOut', send: ['iNcIp'], k: '10.1.2.3', expect: V("certificate name is outside the issuer's permitted names (name constraints)"), why: 'RFC 5280 4.2.1.10' },
  { what: 'excluded IPv4 subtree', leaf: 'ncIpExcl4', send: ['iNcIpExcl'], k: '10.1.2.3', expect: V("certificate name is excluded by the issuer's name constraints"), why: 'RFC 5280 4.2.1.10' },
  { what: 'excluded IPv6 subtree', leaf: 'ncIpExcl6', send: ['iNcIpExcl'], k: 'fd00::1', expect: V("certificate name is excluded by the issuer's name constraints"), why: 'RFC 5280 4.2.1.10 (32-octet address and mask)' },
  { what: 'excluded IP subtrees: other addresses', leaf: 'ncIpExclOk', send: ['iNcIpExcl'], k: '2001:db8::1', expect: 'accept', why: 'RFC 5280 4.2.1.10' },
  // --- purpose ---
  { what: 'wrong purpose: EKU clientAuth only', leaf: 'leafClientAuth', expect: PURPOSE, why: 'RFC 5280 4.2.1.12: an EKU without id-kp-serverAuth forbids TLS server use' },
  { what: 'no EKU at all', leaf: 'leafNoEku', expect: 'accept', why: 'RFC 5280 4.2.1.12: absent EKU means any purpose' },
  { what: 'EKU anyExtendedKeyUsage only', leaf: 'leafAnyEku', expect: PURPOSE, why: 'CA/B BR 7.1.2.7.10 forbids anyExtendedKeyUsage in server certificates; OpenSSL wants serverAuth itself, the stricter reading' },
  { what: 'intermediate with EKU clientAuth only', leaf: 'leafUnderClientAuthCa', send: ['iClientAuth'], expect: PURPOSE, why: 'EKU in CA certificates restricts the subtree (CA/B BR 7.1.2.10.6, Mozilla and Microsoft practice; OpenSSL applies it)' },
  { what: 'leaf without keyUsage', leaf: 'leafNoKu', expect: 'accept', why: 'RFC 5280 4.2.1.3: keyUsage is optional; absent means no restriction' },
  { what: 'leaf keyUsage keyEncipherment only, TLS 1.3', leaf: 'leafKuKeyEnc', expect: V('certificate key usage does not allow signing (keyUsage lacks digitalSignature)'), why: 'RFC 8446 4.4.2.2, RFC 5280 4.2.1.3: with keyUsage present, digitalSignature must be set for the key to sign the handshake', differs: 'OpenSSL 3.0 does not check keyUsage in TLS 1.3 and accepts; src/trust/policy.ts rejects' },
  { what: 'leaf that is a CA (basicConstraints CA:TRUE)', leaf: 'leafCaTrue', expect: V('the server certificate is a CA certificate (basicConstraints CA:TRUE), not an end-entity one'), why: 'CA/B BR 7.1.2.7.8: a subscriber certificate is not a CA; its key could issue for any name (Firefox: CA cert used as end entity)', differs: 'OpenSSL accepts it; the program refuses' },
  { what: 'self-signed CA:TRUE server certificate that is itself the trust anchor', leaf: 'selfSignedCaLeaf', anchors: ['selfSignedCaLeaf'], expect: 'accept', why: 'the user trusts exactly this certificate (openssl req -x509 makes CA:TRUE ones): nothing below it to issue' },
  // --- extensions ---
  { what: 'critical unknown extension in the leaf', leaf: 'leafCritUnknown', expect: V('certificate has an unknown critical extension'), why: 'RFC 5280 4.2: a certificate with an unrecognized critical extension MUST be rejected' },
  { what: 'non-critical unknown extension', leaf: 'leafNoncritUnknown', expect: 'accept', why: 'RFC 5280 4.2: unrecognized non-critical extensions may be ignored' },
  { what: 'critical unknown extension in an intermediate', leaf: 'leafUnderCritUnknown', send: ['iCritUnknown'], expect: V('certificate has an unknown critical extension'), why: 'RFC 5280 4.2, 6.1.4 (o)' },
  // --- keys ---
  { what: 'weak leaf key: RSA 1024', leaf: 'leafRsa1024', expect: V('certificate key is too small (RSA 1024 bits, at least 2048 needed)'), why: 'CA/B BR 6.1.5 (RSA >= 2048), NIST SP 800-131A: 1024-bit RSA is disallowed', differs: SECLEVEL0 },
  { what: 'weak leaf key, no -k: the chain is still checked', leaf: 'leafRsa1024', k: null, expect: V('certificate key is too small (RSA 1024 bits, at least 2048 needed)'), why: 'SPEC 4: without -k only the name check goes', differs: SECLEVEL0 },
  { what: 'weak leaf key with --no-verify-cert', leaf: 'leafRsa1024', args: ['--no-verify-cert'], expect: 'accept', why: 'SPEC 2: the user turned verification off' },
  { what: 'RSA 2048 leaf', leaf: 'leafRsa2048', expect: 'accept', why: 'CA/B BR 6.1.5' },
  { what: 'Ed25519 leaf', leaf: 'leafEd25519', expect: 'accept', why: 'RFC 8410, RFC 8446 4.2.3' },
  { what: 'weak intermediate key: RSA 1024', leaf: 'leafUnderRsa1024', send: ['iRsa1024'], expect: V('CA certificate key is too small (RSA 1024 bits, at least 2048 needed): "RSA-1024 Inter"'), why: 'CA/B BR 6.1.5: a forgeable issuer key forges the leaf', differs: SECLEVEL0 },
  { what: 'weak anchor key: RSA 1024', leaf: 'leafUnderRootRsa1024', anchors: ['rootRsa1024'], expect: V('CA certificate key is too small (RSA 1024 bits, at least 2048 needed): "RSA-1024 Root"'), why: 'CA/B BR 6.1.5; OpenSSL level 1 also checks the anchor key (CA_KEY_TOO_SMALL)', differs: SECLEVEL0 },
  { what: 'intermediate key on P-192', leaf: 'leafUnderP192', send: ['iP192'], expect: V('CA certificate key is on a weak elliptic curve (P-192): "P-192 Inter"'), why: 'CA/B BR 6.1.5 (P-256, P-384, P-521); NIST SP 800-131A: under 112 bits of strength', differs: SECLEVEL0 },
  // --- signature hashes ---
  { what: 'leaf signed with ECDSA SHA-1', leaf: 'leafSha1Ecdsa', expect: V('certificate signature algorithm is too weak (SHA-1 with ECDSA)'), why: 'CA/B BR 7.1.3.2 forbids SHA-1; SHA-1 collisions are practical (SHAttered, 2017)', differs: SECLEVEL0 },
  { what: 'leaf signed with RSA SHA-1', leaf: 'leafSha1Rsa', anchors: ['rootRsa'], expect: V('certificate signature algorithm is too weak (SHA-1 with RSA)'), why: 'CA/B BR 7.1.3.2; RFC 9155', differs: SECLEVEL0 },
  { what: 'leaf signed with RSA MD5', leaf: 'leafMd5Rsa', anchors: ['rootRsa'], expect: V('certificate signature algorithm is too weak (MD5 with RSA)'), why: 'RFC 6151: MD5 collisions (rogue CA, 2008)', differs: SECLEVEL0 },
  { what: 'leaf signed with RSA SHA-384', leaf: 'leafSha384Rsa', anchors: ['rootRsa'], expect: 'accept', why: 'CA/B BR 7.1.3.2' },
  { what: 'intermediate signed with SHA-1', leaf: 'leafUnderSha1', send: ['iSha1'], expect: V('CA certificate signature algorithm is too weak (SHA-1 with ECDSA): "SHA-1 Inter"'), why: 'CA/B BR 7.1.3.2: every signature of the path counts', differs: SECLEVEL0 },
  { what: 'SHA-1-signed intermediate used as the trust anchor', leaf: 'leafUnderSha1', send: ['iSha1'], anchors: ['iSha1'], expect: 'accept', why: 'RFC 5280 6.1.1 (d), SPEC 3: the anchor itself is trusted, its own signature is not part of the path' },
  { what: 'weak leaf key, TLS 1.2', leaf: 'leafRsa1024', maxVersion: 'TLSv1.2', expect: V('certificate key is too small (RSA 1024 bits, at least 2048 needed)'), why: 'CA/B BR 6.1.5: the same rules whatever the protocol version', differs: SECLEVEL0 },
  { what: 'leaf signed with SHA-1, TLS 1.2', leaf: 'leafSha1Rsa', anchors: ['rootRsa'], maxVersion: 'TLSv1.2', expect: V('certificate signature algorithm is too weak (SHA-1 with RSA)'), why: 'CA/B BR 7.1.3.2', differs: SECLEVEL0 },
  { what: 'partial wildcard, TLS 1.2', leaf: 'leafPartial', maxVersion: 'TLSv1.2', expect: mismatch('www.example.test', 'w*.example.test'), why: 'RFC 9525 6.3', differs: 'Node accepts a partial wildcard; the program refuses it' },
  { what: 'weak leaf key at the default security level', leaf: 'leafRsa1024', expect: V('certificate key is too small (at least RSA 2048 bits or a 224-bit elliptic curve needed)'), why: 'OpenSSL security level 2 (the default when TLS 1.0/1.1 are not asked for): 112 bits' },
  { what: 'weak anchor key at the default security level', leaf: 'leafUnderRootRsa1024', anchors: ['rootRsa1024'], expect: V('CA certificate key is too small (at least RSA 2048 bits or a 224-bit elliptic curve needed)'), why: 'OpenSSL security level 2 checks the anchor key too' },
  { what: 'SHA-1-signed intermediate at the default security level', leaf: 'leafUnderSha1', send: ['iSha1'], expect: V('certificate signature algorithm is too weak (SHA-1 or MD5)'), why: 'OpenSSL security level 2: SHA-1 gives less than 112 bits against collisions' },
  { what: 'self-signed anchor whose own signature is SHA-1', leaf: 'leafUnderRootSha1', anchors: ['rootSha1'], expect: 'accept', why: 'RFC 5280 6.1.1 (d): an anchor is trusted as configured, its self-signature is never relied on' },
  // --- DNS names (RFC 9525 6.3, RFC 6125 6.4) ---
  { what: 'exact name', leaf: 'leafD1', expect: 'accept', why: 'RFC 6125 6.4.1' },
  { what: 'the second SAN name', leaf: 'leafD1', k: 'alt.example.test', expect: 'accept', why: 'RFC 6125 6.4: any DNS-ID may match' },
  { what: 'wrong name', leaf: 'leafD1', k: 'other.example.test', expect: mismatch('other.example.test', MAIN_VALID), why: 'RFC 6125 6.4.1' },
  { what: 'parent of a SAN name', leaf: 'leafD1', k: 'example.test', expect: mismatch('example.test', MAIN_VALID), why: 'RFC 6125 6.4.1: exact match, no suffix match' },
  { what: 'CN when SANs exist', leaf: 'leafD1', k: 'cn.example.test', expect: mismatch('cn.example.test', MAIN_VALID), why: 'RFC 6125 6.4.4: the CN is not checked when DNS-IDs are present' },
  { what: 'mixed-case -k', leaf: 'leafD1', k: 'WWW.Example.TEST', expect: 'accept', why: 'RFC 6125 6.4.1, RFC 4343: DNS names compare case-insensitively' },
  { what: 'mixed-case SAN', leaf: 'leafUpper', k: 'www.upper.example.test', expect: 'accept', why: 'RFC 6125 6.4.1, RFC 4343' },
  { what: 'trailing dot on -k', leaf: 'leafD1', k: 'www.example.test.', expect: 'accept', why: 'RFC 9525 6.3 / RFC 6066 3: the absolute name is the same name; the dot is dropped before matching' },
  { what: 'trailing dot in the SAN', leaf: 'leafDotSan', k: 'www.dot.example.test', expect: mismatch('www.dot.example.test', 'www.dot.example.test.'), why: 'RFC 5280 4.2.1.6: a dNSName is in preferred name syntax, without the dot; OpenSSL X509_check_host does not match it either', differs: 'Node strips the dot and accepts; the program refuses the malformed name' },
  { what: 'no -k: no name check', leaf: 'leafD1', k: null, expect: 'accept', why: 'SPEC 4: without -k the chain is verified, no name' },
  // --- wildcards (RFC 9525 6.3, RFC 6125 6.4.3, CA/B BR 7.1.2.7.12) ---
  { what: 'wildcard: one label', leaf: 'leafWild', k: 'a.wild.example.test', expect: 'accept', why: 'RFC 6125 6.4.3: "*" is the whole left-most label' },
  { what: 'wildcard: mixed case', leaf: 'leafWild', k: 'A.WILD.Example.test', expect: 'accept', why: 'RFC 6125 6.4.1' },
  { what: 'wildcard: does not match the bare parent', leaf: 'leafWild', k: 'wild.example.test', expect: mismatch('wild.example.test', '*.wild.example.test'), why: 'RFC 6125 6.4.3: the wildcard stands for exactly one label' },
  { what: 'wildcard: does not match two labels', leaf: 'leafWild', k: 'a.b.wild.example.test', expect: mismatch('a.b.wild.example.test', '*.wild.example.test'), why: 'RFC 6125 6.4.3' },
  { what: 'wildcard over an IDN A-label', leaf: 'leafWild', k: 'xn--caf-dma.wild.example.test', expect: 'accept', why: 'RFC 6125 6.4.3 forbids wildcards inside an A-label, not over a whole one' },
  { what: '*.a.b matches x.a.b', leaf: 'leafWildAB', k: 'x.a.b', expect: 'accept', why: 'RFC 6125 6.4.3: two labels after the wildcard (no public suffix list here)' },
  { what: '*.a.b does not match a.b', leaf: 'leafWildAB', k: 'a.b', expect: mismatch('a.b', '*.a.b'), why: 'RFC 6125 6.4.3' },
  { what: '*.test: wildcard over a single label', leaf: 'leafWildTld', k: 'x.test', expect: mismatch('x.test', '*.test'), why: 'CA/B BR 3.2.2.6: no wildcard directly over a TLD or public suffix' },
  { what: 'partial wildcard w*.example.test', leaf: 'leafPartial', k: 'www.example.test', expect: mismatch('www.example.test', 'w*.example.test'), why: 'RFC 9525 6.3 and CA/B BR 7.1.2.7.12: "*" only as a whole label', differs: 'Node (RFC 6125 6.4.3 "MAY") accepts a partial wildcard; the program refuses it' },
  { what: 'partial wildcard a*.b', leaf: 'leafAStarB', k: 'ab.b', expect: mismatch('ab.b', 'a*.b'), why: 'RFC 9525 6.3: partial wildcard; and only one label after it' },
  { what: '"*." alone', leaf: 'leafStarDot', k: 'x', expect: mismatch('x', '*.'), why: 'RFC 6125 6.4.3: nothing after the wildcard; RFC 5280 4.2.1.6 preferred syntax' },
  { what: '"*" alone', leaf: 'leafStarAlone', k: 'x', expect: mismatch('x', '*'), why: 'CA/B BR 3.2.2.6: never a wildcard over everything' },
  { what: 'wildcard not left-most', leaf: 'leafStarMid', k: 'www.x.example.test', expect: mismatch('www.x.example.test', 'www.*.example.test'), why: 'RFC 6125 6.4.3: only the left-most label' },
  { what: 'two wildcards', leaf: 'leafDoubleStar', k: 'a.b.example.test', expect: mismatch('a.b.example.test', '*.*.example.test'), why: 'RFC 6125 6.4.3' },
  { what: 'IDN A-label, exact', leaf: 'leafIdn', k: 'xn--caf-dma.example.test', expect: 'accept', why: 'RFC 6125 6.4.2: A-labels compare as ASCII' },
  { what: 'IDN A-label, other case', leaf: 'leafIdn', k: 'XN--CAF-DMA.Example.Test', expect: 'accept', why: 'RFC 6125 6.4.2, RFC 5891' },
  { what: 'wildcard inside an A-label (xn--*)', leaf: 'leafIdnWild', k: 'xn--caf-dma.example.test', expect: mismatch('xn--caf-dma.example.test', 'xn--*.example.test'), why: 'RFC 6125 6.4.3: no wildcard within an A-label' },
  { what: 'CN only, no SAN', leaf: 'leafCnOnly', k: 'www.cn.example.test', expect: 'hostname mismatch: www.cn.example.test: certificate has no DNS or IP subject alternative name (its common name www.cn.example.test is not used for name checks)', why: 'RFC 9525 2 and 6.3: the CN is no longer an identifier (CA/B BR: a CN may only repeat a SAN entry)', differs: 'Node falls back to the CN and accepts; the program refuses' },
  { what: 'CN, with IP SANs but no DNS SAN', leaf: 'leafCnAndIp', k: 'www.cnip.example.test', expect: mismatch('www.cnip.example.test', '127.0.0.1'), why: 'RFC 6125 6.4.4: even the old CN fallback was only for certificates without SAN identifiers', differs: 'Node still falls back to the CN and accepts; the program refuses' },
  // --- IP names (RFC 5280 4.2.1.6, RFC 9525 6.2) ---
  { what: 'IPv4 in an iPAddress SAN', leaf: 'leafD1', k: '127.0.0.1', expect: 'accept', why: 'RFC 9525 6.2: octet comparison with iPAddress' },
  { what: 'IPv4 not in the certificate', leaf: 'leafD1', k: '127.0.0.2', expect: mismatch('127.0.0.2', MAIN_VALID), why: 'RFC 9525 6.2' },
  { what: 'IPv6 ::1', leaf: 'leafD1', k: '::1', expect: 'accept', why: 'RFC 9525 6.2' },
  { what: 'IPv6 in brackets', leaf: 'leafD1', k: '[::1]', expect: 'accept', why: 'RFC 3986 3.2.2 literal form, same address' },
  { what: 'IPv6 in uncompressed form', leaf: 'leafD1', k: '0:0:0:0:0:0:0:1', expect: 'accept', why: 'RFC 9525 6.2: octets, not text, are compared' },
  { what: 'IPv6 not in the certificate', leaf: 'leafD1', k: '::2', expect: mismatch('::2', MAIN_VALID), why: 'RFC 9525 6.2' },
  { what: 'IPv4-mapped IPv6 against an IPv4 SAN', leaf: 'leafD1', k: '::ffff:127.0.0.1', expect: mismatch('::ffff:127.0.0.1', MAIN_VALID), why: 'RFC 5280 4.2.1.6: 4 and 16 octets are different addresses' },
  { what: 'a DNS -k is never matched against IP SANs', leaf: 'leafD1', k: 'localhost', expect: mismatch('localhost', MAIN_VALID), why: 'RFC 9525 6.2/6.3: each identifier type matches its own SAN type' },
  { what: 'IPv6 SAN, -k in other case and form', leaf: 'leafIpv6', k: '2001:DB8:0:0::1', expect: 'accept', why: 'RFC 9525 6.2, RFC 5952' },
  { what: 'IP address written in a dNSName', leaf: 'leafIpInDns', k: '127.0.0.1', expect: mismatch('127.0.0.1', '127.0.0.1'), why: 'RFC 9525 6.2: an IP reference matches iPAddress only; CA/B BR 7.1.2.7.12 forbids IPs in dNSName' },
];

let pki: Pki;
const certs = new Map<string, Cert>();
const servers = new Map<string, Promise<{ port: number; server: Server }>>();

function cert(name: string): Cert {
  const c = certs.get(name);
  if (!c) throw new Error(`corpus: no certificate ${name}`);
  return c;
}

/** One server per presented chain, shared by the rows that present it. */
function serverFor(row: Row): Promise<{ port: number; server: Server }> {
  const send = row.send ?? [];
  const key = [row.leaf, ...send, row.maxVersion ?? ''].join(' ');
  let started = servers.get(key);
  if (!started) {
    started = (async () => {
      const leaf = cert(row.leaf);
      const server = createServer(
        {
          key: leaf.keyPem,
          cert: leaf.certPem + send.map((n) => cert(n).certPem).join(''),
          // The server must be able to present weak certificates at all.
          ciphers: 'DEFAULT:@SECLEVEL=0',
          minVersion: 'TLSv1.2',
          maxVersion: row.maxVersion ?? 'TLSv1.3',
          allowHalfOpen: true,
        },
        (socket) => {
          socket.on('error', () => undefined);
          socket.pipe(socket);
        },
      );
      server.on('tlsClientError', () => undefined);
      const open = new Set<Socket>();
      server.on('connection', (s: Socket) => {
        open.add(s);
        s.on('close', () => open.delete(s));
      });
      (server as Server & { openSockets?: Set<Socket> }).openSockets = open;
      server.listen(0, '127.0.0.1');
      await once(server, 'listening');
      return { port: (server.address() as { port: number }).port, server };
    })();
    servers.set(key, started);
  }
  return started;
}

before(() => {
  pki = new Pki();
  for (const [name, spec] of SPECS) {
    const { issuer, ...rest } = spec;
    certs.set(name, pki.cert(name, { cn: name, ...rest, issuer: issuer === undefined ? undefined : cert(issuer) }));
  }
  // Anchor files, one per distinct set.
  for (const row of ROWS) {
    const anchors = row.anchors ?? ['root'];
    const file = `anchors-${anchors.join('+')}.pem`;
    pki.bundle(file, anchors.map(cert));
  }
});

after(async () => {
  for (const started of servers.values()) {
    const { server } = await started;
    for (const s of (server as Server & { openSockets?: Set<Socket> }).openSockets ?? []) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
  pki?.remove();
});

describe('certificate verification corpus', { concurrency: 4 }, () => {
  for (const row of ROWS) {
    const label = `${row.expect === 'accept' ? 'accept' : 'reject'}: ${row.what}${row.k === null ? '' : ` (-k ${row.k ?? 'www.example.test'})`}`;
    it(label, async () => {
      const { port } = await serverFor(row);
      const anchors = row.anchors ?? ['root'];
      // Where OpenSSL's default security level would reject first, the row
      // asks for TLS 1.0 too: level 0, where the policy is the only barrier.
      const legacy = row.differs === SECLEVEL0 ? ['--min-protocol=TLSv1'] : [];
      const args = [...legacy, ...(row.args ?? []), '-v0', ...(row.k === null ? [] : ['-k', row.k ?? 'www.example.test']), '6', '7'];
      const payload = `row: ${row.what}`;
      const r = await runWithSocket(port, args, { env: { CAFILE: pki.path(`anchors-${anchors.join('+')}.pem`) }, stdin: payload });
      const why = `${row.why}${row.differs ? ` [differs: ${row.differs}]` : ''}`;
      if (row.expect === 'accept') {
        assert.equal(r.stderr, '', why);
        assert.equal(r.code, 0, why);
        assert.equal(r.stdout.toString(), payload, why);
      } else {
        assert.equal(r.stderr, `s6-tlsc-io: fatal: ${row.expect}\n`, why);
        assert.equal(r.code, 98, why);
        assert.equal(r.stdout.length, 0, why);
      }
    });
  }
});

// The table itself must stay honest: every row says why, and the names it uses exist.
describe('corpus table', () => {
  it('every row cites a reason and names certificates that are made', () => {
    const made = new Set(SPECS.map(([n]) => n));
    for (const row of ROWS) {
      assert.ok(row.why.length > 10, row.what);
      for (const n of [row.leaf, ...(row.send ?? []), ...(row.anchors ?? [])]) assert.ok(made.has(n), `${row.what}: ${n}`);
    }
  });
});

// The matching and parsing pieces alone, on inputs no server above presents.
describe('policy pieces', () => {
  it('IP literals parse to octets; zone ids and malformed text never do', () => {
    assert.deepEqual(parseIp('127.0.0.1'), Uint8Array.from([127, 0, 0, 1]));
    assert.deepEqual(parseIp('::ffff:1.2.3.4'), Uint8Array.from([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 1, 2, 3, 4]));
    assert.deepEqual(parseIp('1::'), Uint8Array.from([0, 1, ...new Array(14).fill(0)]));
    for (const bad of ['1.2.3', '1.2.3.256', '01.2.3.4', '1:2:3:4:5:6:7:8:9', '1::2::3', 'fe80::1%eth0', '1:2:3:4:5:6:7::8:9', '::g', '1.2.3.4::']) {
      assert.equal(parseIp(bad), undefined, bad);
    }
  });
  it('addresses are shown in RFC 5952 form', () => {
    assert.equal(formatIp(parseIp('0:0:0:0:0:0:0:1')!), '::1');
    assert.equal(formatIp(parseIp('2001:db8:0:0:1:0:0:1')!), '2001:db8::1:0:0:1');
    assert.equal(formatIp(parseIp('2001:DB8:0:1:1:1:1:1')!), '2001:db8:0:1:1:1:1:1');
    assert.equal(formatIp(parseIp('::')!), '::');
    assert.equal(formatIp(Uint8Array.from([10, 0, 0, 1])), '10.0.0.1');
  });
  it('DNS names: whole-label wildcards only, case-insensitive, no malformed presented names', () => {
    const yes: [string, string][] = [['*.a.b', 'x.a.b'], ['WWW.EXAMPLE.TEST', 'www.example.test'], ['*.Example.Test', 'xn--caf-dma.example.test']];
    const no: [string, string][] = [
      ['*.a.b', 'a.b'], ['*.b', 'a.b'], ['a*.b.c', 'ab.b.c'], ['*a.b.c', 'ba.b.c'], ['*.', 'x'], ['*', 'x'], ['x.*.b.c', 'x.y.b.c'],
      ['www.example.test.', 'www.example.test'], ['www..example.test', 'www..example.test'], ['*.*.b.c', 'x.y.b.c'],
      ['xn--*.b.c', 'xn--caf-dma.b.c'], ['www.example.test\0.evil', 'www.example.test'], ['caf\u00e9.b.c', 'caf\u00e9.b.c'], ['', ''],
    ];
    for (const [p, h] of yes) assert.equal(dnsNameMatches(p, h), true, `${p} ~ ${h}`);
    for (const [p, h] of no) assert.equal(dnsNameMatches(p, h), false, `${p} ~ ${h}`);
  });
  it('hostile DER never throws and never yields a name: every truncation and every flipped length byte', () => {
    const der = Buffer.from(cert('leafD1').certPem.replace(/-----[^-]+-----|\s/g, ''), 'base64');
    const whole = parseCertificate(der);
    assert.deepEqual(whole?.dnsNames, ['www.example.test', 'alt.example.test']);
    assert.equal(checkName({ kind: 'dns', name: 'www.example.test' }, der), undefined);
    for (let n = 0; n < der.length; n += 7) {
      const cut = der.subarray(0, n);
      assert.doesNotThrow(() => parseCertificate(cut));
      assert.notEqual(checkName({ kind: 'dns', name: 'www.example.test' }, cut), undefined, `truncated at ${n}`);
    }
    for (let k = 0; k < der.length; k++) {
      const bent = Buffer.from(der);
      bent[k] ^= 0x80;
      assert.doesNotThrow(() => parseCertificate(bent), `byte ${k}`);
    }
    assert.equal(parseCertificate(readFileSync(pki.path('leafD1.key'))), undefined);
  });
});
