// Throwaway certificates for the tests, made with the OpenSSL command line at
// test time: roots, intermediates and leaves with whatever a test needs
// (names, validity dates, key usage, CA flags), in PEM and DER; and, with a
// DER writer and crypto.sign, hostile ones the command line will not make.

import { execFileSync } from 'child_process';
import { mkdtempSync, writeFileSync, readFileSync, mkdirSync, rmSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { createPrivateKey, createPublicKey, generateKeyPairSync, sign as cryptoSign, KeyObject, createHash } from 'crypto';
import { certificateNames, readChildren, readTlv } from '../../src/trust/der';

export interface Cert {
  name: string;
  certPath: string;
  keyPath: string;
  certPem: string;
  keyPem: string;
}

export interface CertOptions {
  /** subject CN; defaults to the name */
  cn?: string;
  /** the issuing certificate; self-signed when absent */
  issuer?: Cert;
  ca?: boolean;
  pathlen?: number;
  dns?: string[];
  ip?: string[];
  /** extendedKeyUsage value, e.g. "serverAuth" or "clientAuth"; "none" omits it */
  eku?: string;
  /** keyUsage value; "none" omits it */
  keyUsage?: string;
  /** extra extension lines for the config */
  extraExtensions?: string[];
  /** YYYYMMDDHHMMSSZ */
  notBefore?: string;
  notAfter?: string;
  /** "ec" (P-256, default), "rsa2048", "rsa1024", "ed25519" */
  keyType?: string;
  md?: string;
  /** omit basicConstraints altogether (a v3 certificate that says nothing about being a CA) */
  omitBasicConstraints?: boolean;
  /** the named curve for keyType "ec" (OpenSSL's name); P-256 when absent */
  curve?: string;
}

function openssl(args: string[], input?: string): string {
  return execFileSync('openssl', args, { input, stdio: ['pipe', 'pipe', 'pipe'] }).toString();
}

function stamp(date: Date): string {
  return date.toISOString().replace(/[-:T]/g, '').slice(0, 14) + 'Z';
}

export function daysFromNow(days: number): string {
  return stamp(new Date(Date.now() + days * 86400_000));
}

export class Pki {
  readonly dir: string;
  private serial = 1;

  constructor() {
    this.dir = mkdtempSync(join(tmpdir(), 's6-tlsc-io-pki-'));
    mkdirSync(join(this.dir, 'db'));
    writeFileSync(join(this.dir, 'db', 'index.txt'), '');
    writeFileSync(join(this.dir, 'db', 'index.txt.attr'), 'unique_subject = no\n');
  }

  path(name: string): string {
    return join(this.dir, name);
  }

  private key(name: string, keyType: string, curve?: string): string {
    const keyPath = this.path(`${name}.key`);
    const algo: Record<string, string[]> = {
      ec: ['-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256'],
      rsa2048: ['-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048'],
      rsa1024: ['-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:1024'],
      ed25519: ['-algorithm', 'ED25519'],
    };
    const args = keyType === 'ec' && curve ? ['-algorithm', 'EC', '-pkeyopt', `ec_paramgen_curve:${curve}`] : algo[keyType];
    openssl(['genpkey', ...args, '-out', keyPath]);
    return keyPath;
  }

  /** A certificate (and its key) named `name`, signed as the options say. */
  cert(name: string, opts: CertOptions = {}): Cert {
    const keyPath = this.key(name, opts.keyType ?? 'ec', opts.curve);
    const csrPath = this.path(`${name}.csr`);
    const certPath = this.path(`${name}.pem`);
    const cnfPath = this.path(`${name}.cnf`);
    const ext: string[] = [];
    if (opts.ca) {
      if (!opts.omitBasicConstraints) ext.push(`basicConstraints = critical, CA:TRUE${opts.pathlen !== undefined ? `, pathlen:${opts.pathlen}` : ''}`);
      if (opts.keyUsage !== 'none') ext.push(`keyUsage = critical, ${opts.keyUsage ?? 'keyCertSign, cRLSign, digitalSignature'}`);
    } else {
      if (!opts.omitBasicConstraints) ext.push('basicConstraints = critical, CA:FALSE');
      if (opts.keyUsage !== 'none') ext.push(`keyUsage = critical, ${opts.keyUsage ?? 'digitalSignature, keyEncipherment'}`);
      if (opts.eku !== 'none') ext.push(`extendedKeyUsage = ${opts.eku ?? 'serverAuth'}`);
    }
    const alt = [...(opts.dns ?? []).map((d) => `DNS:${d}`), ...(opts.ip ?? []).map((i) => `IP:${i}`)];
    if (alt.length) ext.push(`subjectAltName = ${alt.join(', ')}`);
    ext.push('subjectKeyIdentifier = hash');
    if (opts.issuer) ext.push('authorityKeyIdentifier = keyid');
    ext.push(...(opts.extraExtensions ?? []));
    writeFileSync(
      cnfPath,
      [
        '[ca]',
        'default_ca = testca',
        '[testca]',
        `database = ${join(this.dir, 'db', 'index.txt')}`,
        `new_certs_dir = ${join(this.dir, 'db')}`,
        `serial = ${join(this.dir, 'db', 'serial')}`,
        `default_md = ${opts.md ?? 'sha256'}`,
        'policy = anything',
        'copy_extensions = none',
        'email_in_dn = no',
        '[anything]',
        'countryName = optional',
        'organizationName = optional',
        'commonName = optional',
        '[req]',
        'distinguished_name = dn',
        'prompt = no',
        '[dn]',
        'C = FR',
        'O = s6-tlsc-io tests',
        `CN = ${opts.cn ?? name}`,
        '[ext]',
        ...ext,
        '',
      ].join('\n'),
    );
    openssl(['req', '-new', '-config', cnfPath, '-key', keyPath, '-out', csrPath]);
    const serialHex = (this.serial++).toString(16).padStart(4, '0');
    writeFileSync(join(this.dir, 'db', 'serial'), serialHex + '\n');
    const signer = opts.issuer ? ['-cert', opts.issuer.certPath, '-keyfile', opts.issuer.keyPath] : ['-selfsign', '-keyfile', keyPath];
    openssl([
      'ca', '-batch', '-notext', '-config', cnfPath, '-extfile', cnfPath, '-extensions', 'ext',
      '-in', csrPath, '-out', certPath, ...signer,
      '-startdate', opts.notBefore ?? daysFromNow(-1),
      '-enddate', opts.notAfter ?? daysFromNow(30),
      '-md', opts.md ?? 'sha256',
      '-preserveDN',
    ]);
    return { name, certPath, keyPath, certPem: readFileSync(certPath, 'utf8'), keyPem: readFileSync(keyPath, 'utf8') };
  }

  /** The certificate in DER, written beside it; returns the path. */
  certDer(cert: Cert): string {
    const out = this.path(`${cert.name}.der`);
    openssl(['x509', '-in', cert.certPath, '-outform', 'DER', '-out', out]);
    return out;
  }

  /** The key in DER (PKCS#8); returns the path. */
  keyDer(cert: Cert): string {
    const out = this.path(`${cert.name}.key.der`);
    openssl(['pkey', '-in', cert.keyPath, '-outform', 'DER', '-out', out]);
    return out;
  }

  /** A file holding several certificates, PEM. */
  bundle(name: string, certs: Cert[]): string {
    const out = this.path(name);
    writeFileSync(out, certs.map((c) => c.certPem).join(''));
    return out;
  }

  /** A CADIR: each anchor under its OpenSSL subject hash name, PEM or DER. */
  caDir(name: string, anchors: Cert[], format: 'pem' | 'der' = 'pem'): string {
    const dir = this.path(name);
    mkdirSync(dir, { recursive: true });
    const used = new Map<string, number>();
    for (const anchor of anchors) {
      const hash = openssl(['x509', '-in', anchor.certPath, '-noout', '-subject_hash']).trim();
      const n = used.get(hash) ?? 0;
      used.set(hash, n + 1);
      const target = join(dir, `${hash}.${n}`);
      if (format === 'pem') writeFileSync(target, anchor.certPem);
      else writeFileSync(target, readFileSync(this.certDer(anchor)));
    }
    return dir;
  }

  remove(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** sha256 hex of a certificate's DER, as SSL_PEER_CERT_HASH carries it. */
export function certSha256(cert: Cert): string {
  const der = Buffer.from(cert.certPem.replace(/-----[^-]+-----|\s/g, ''), 'base64');
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  return require('crypto').createHash('sha256').update(der).digest('hex');
}

/** The name the common server certificate is for, and the option that asks for it. */
export const SERVER_NAME = 'server.test';
export const K = ['-k', SERVER_NAME];

/** The PKI most end-to-end tests need: a root CA and a server certificate for SERVER_NAME. */
export function serverPki(): { pki: Pki; root: Cert; leaf: Cert } {
  const pki = new Pki();
  const root = pki.cert('root', { ca: true });
  const leaf = pki.cert('leaf', { issuer: root, dns: [SERVER_NAME] });
  return { pki, root, leaf };
}

// ---- Hostile certificates: a DER writer and crypto.sign ----
//
// For what the openssl command line will not make: a subject with any bytes
// in it, a "decoy" with another certificate's exact subject, a certificate
// for an existing key (cross-signing), no key identifiers at all.


function derLength(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

export function derTlv(tag: number, ...content: Buffer[]): Buffer {
  const body = Buffer.concat(content);
  return Buffer.concat([Buffer.from([tag]), derLength(body.length), body]);
}

const derSeq = (...c: Buffer[]): Buffer => derTlv(0x30, ...c);

export function derOid(dotted: string): Buffer {
  const arcs = dotted.split('.').map(Number);
  const bytes: number[] = [arcs[0] * 40 + arcs[1]];
  for (const arc of arcs.slice(2)) {
    const part: number[] = [arc & 0x7f];
    for (let v = Math.floor(arc / 128); v > 0; v = Math.floor(v / 128)) part.unshift(0x80 | (v & 0x7f));
    bytes.push(...part);
  }
  return derTlv(0x06, Buffer.from(bytes));
}

/** A non-negative INTEGER, minimal as DER wants it. */
function derInteger(value: Buffer): Buffer {
  let at = 0;
  while (at < value.length - 1 && value[at] === 0) at++;
  const bytes = value.subarray(at);
  return derTlv(0x02, bytes[0] & 0x80 ? Buffer.concat([Buffer.from([0]), bytes]) : bytes);
}

function derTime(date: Date): Buffer {
  const text = date.toISOString().replace(/[-:T]/g, '').slice(0, 14) + 'Z';
  return date.getUTCFullYear() < 2050 ? derTlv(0x17, Buffer.from(text.slice(2))) : derTlv(0x18, Buffer.from(text));
}

/** A Name of C, O and a CN made of whatever bytes are given (UTF8String). */
export function derName(cn: string | Buffer, o = 's6-tlsc-io tests'): Buffer {
  const atv = (oid: string, tag: number, value: Buffer): Buffer => derTlv(0x31, derSeq(derOid(oid), derTlv(tag, value)));
  return derSeq(
    atv('2.5.4.6', 0x13, Buffer.from('FR')),
    atv('2.5.4.10', 0x0c, Buffer.from(o)),
    atv('2.5.4.3', 0x0c, typeof cn === 'string' ? Buffer.from(cn, 'utf8') : cn),
  );
}

function extension(oid: string, critical: boolean, value: Buffer): Buffer {
  return derSeq(derOid(oid), ...(critical ? [derTlv(0x01, Buffer.from([0xff]))] : []), derTlv(0x04, value));
}

export interface ForgeOptions {
  /** the subject's CN (any bytes), or a whole subject Name in DER */
  cn?: string | Buffer;
  subjectDer?: Buffer;
  /** the signer; self-signed when absent */
  issuer?: Cert;
  /** reuse this certificate's key (cross-signing, decoys); else a new one */
  keyOf?: Cert;
  keyType?: 'ec' | 'rsa1024' | 'rsa2048';
  ca?: boolean;
  dns?: string[];
  notBefore?: Date;
  notAfter?: Date;
  md?: 'sha256' | 'sha1';
  /** subjectKeyIdentifier: true for the usual SHA-1 of the key, a value, or none */
  skid?: boolean | Buffer;
  /** authorityKeyIdentifier keyIdentifier; none when absent */
  akid?: Buffer;
}

const SIG_ALGS: Record<string, Record<string, Buffer>> = {
  ec: { sha256: derSeq(derOid('1.2.840.10045.4.3.2')), sha1: derSeq(derOid('1.2.840.10045.4.1')) },
  rsa: {
    sha256: derSeq(derOid('1.2.840.113549.1.1.11'), derTlv(0x05)),
    sha1: derSeq(derOid('1.2.840.113549.1.1.5'), derTlv(0x05)),
  },
};

function newKey(keyType: ForgeOptions['keyType']): KeyObject {
  if (keyType === 'rsa1024' || keyType === 'rsa2048') {
    return generateKeyPairSync('rsa', { modulusLength: keyType === 'rsa1024' ? 1024 : 2048 }).privateKey;
  }
  return generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
}

export function pemToDer(pem: string): Buffer {
  const m = /-----BEGIN CERTIFICATE-----([^-]+)-----END CERTIFICATE-----/.exec(pem);
  if (!m) throw new Error('no certificate in PEM');
  return Buffer.from(m[1].replace(/\s+/g, ''), 'base64');
}

/** The SHA-1 of the subjectPublicKey bits: the usual subjectKeyIdentifier (RFC 5280 4.2.1.2 (1)). */
export function keyIdentifier(key: KeyObject): Buffer {
  const spki = createPublicKey(key).export({ type: 'spki', format: 'der' });
  const outer = readTlv(spki, 0);
  const bits = outer && readChildren(spki, outer.start, outer.end)?.[1];
  if (!bits) throw new Error('unreadable public key');
  return createHash('sha1').update(spki.subarray(bits.start + 1, bits.end)).digest();
}

let forgeSerial = 0x1000;

/** A certificate written byte by byte and signed with crypto.sign; files beside the others. */
export function forge(pki: Pki, name: string, opts: ForgeOptions = {}): Cert {
  const key = opts.keyOf ? createPrivateKey(opts.keyOf.keyPem) : newKey(opts.keyType);
  const signer = opts.issuer ? createPrivateKey(opts.issuer.keyPem) : key;
  const subject = opts.subjectDer ?? derName(opts.cn ?? name);
  const issuerName = opts.issuer ? subjectOf(opts.issuer) : subject;
  const family = signer.asymmetricKeyType === 'rsa' ? 'rsa' : 'ec';
  const md = opts.md ?? 'sha256';
  const sigAlg = SIG_ALGS[family][md];
  const exts: Buffer[] = [];
  exts.push(extension('2.5.29.19', true, derSeq(...(opts.ca ? [derTlv(0x01, Buffer.from([0xff]))] : []))));
  // keyUsage: keyCertSign + cRLSign + digitalSignature for a CA, digitalSignature + keyEncipherment for a leaf
  exts.push(extension('2.5.29.15', true, opts.ca ? derTlv(0x03, Buffer.from([0x01, 0x86])) : derTlv(0x03, Buffer.from([0x05, 0xa0]))));
  if (!opts.ca) exts.push(extension('2.5.29.37', false, derSeq(derOid('1.3.6.1.5.5.7.3.1'))));
  if (opts.dns?.length) exts.push(extension('2.5.29.17', false, derSeq(...opts.dns.map((d) => derTlv(0x82, Buffer.from(d, 'latin1'))))));
  if (opts.skid) exts.push(extension('2.5.29.14', false, derTlv(0x04, opts.skid === true ? keyIdentifier(key) : opts.skid)));
  if (opts.akid) exts.push(extension('2.5.29.35', false, derSeq(derTlv(0x80, opts.akid))));
  const spki = createPublicKey(key).export({ type: 'spki', format: 'der' });
  const tbs = derSeq(
    derTlv(0xa0, derInteger(Buffer.from([2]))),
    derInteger(Buffer.from((forgeSerial++).toString(16).padStart(8, '0'), 'hex')),
    sigAlg,
    issuerName,
    derSeq(derTime(opts.notBefore ?? new Date(Date.now() - 86400_000)), derTime(opts.notAfter ?? new Date(Date.now() + 30 * 86400_000))),
    subject,
    spki,
    derTlv(0xa3, derSeq(...exts)),
  );
  const signature = cryptoSign(md, tbs, signer);
  const der = derSeq(tbs, sigAlg, derTlv(0x03, Buffer.from([0]), signature));
  const certPem = `-----BEGIN CERTIFICATE-----\n${der.toString('base64').replace(/.{64}/g, '$&\n').replace(/\n$/, '')}\n-----END CERTIFICATE-----\n`;
  const keyPem = key.export({ type: 'pkcs8', format: 'pem' }).toString();
  const certPath = pki.path(`${name}.pem`);
  const keyPath = pki.path(`${name}.key`);
  writeFileSync(certPath, certPem);
  writeFileSync(keyPath, keyPem, { mode: 0o600 });
  return { name, certPath, keyPath, certPem, keyPem };
}

/** A certificate's subject Name, DER, for a decoy or a cross-certificate that must carry it exactly. */
export function subjectOf(cert: Cert): Buffer {
  const names = certificateNames(pemToDer(cert.certPem));
  if (!names) throw new Error(`unreadable certificate ${cert.name}`);
  return names.subject;
}
