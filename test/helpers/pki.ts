// Throwaway certificates for the tests, made with the OpenSSL command line at
// test time: roots, intermediates and leaves with whatever a test needs
// (names, validity dates, key usage, CA flags), in PEM and DER.

import { execFileSync } from 'child_process';
import { mkdtempSync, writeFileSync, readFileSync, mkdirSync, rmSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';

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
