// OpenSSL's subject hash computed in JS (src/trust/subject-hash.ts) against
// `openssl x509 -subject_hash`, on names built to hit every canonical rule:
// case, inner and outer white space, tabs, multi-valued RDNs (a DER SET to
// sort), PrintableString, IA5String, UTF8String, BMPString, characters
// beyond the BMP, and every anchor of the system's /etc/ssl/certs.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { nameDerHash, subjectHash } from '../src/trust/subject-hash';

const dir = mkdtempSync(join(tmpdir(), 's6-tlsc-io-hash-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function der(pem: string): Buffer {
  return Buffer.from(pem.split('-----')[2], 'base64');
}

test('subject hashes as OpenSSL computes them, for names that exercise each canonical rule', () => {
  const key = join(dir, 'key.pem');
  execFileSync('openssl', ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', key]);
  const cases: [string, string][] = [
    ['default', '/CN=  Mixed   CASE  Name /O=Été Société/OU=日本語'],
    ['utf8only', '/CN=  Mixed   CASE  Name /O=Été Société/OU=日本語 x'],
    ['nombstr', '/C=FR/O=Ab  Cd/CN=x+OU=y/emailAddress=Mail@Example.ORG'],
    ['pkix', '/CN=B+CN=a  A/O=\t tab/OU=𝄞 clef'],
    ['utf8only', '/CN=ZZ+CN=zz+O=b/OU=   '],
  ];
  for (const [mask, subject] of cases) {
    const config = join(dir, 'req.cnf');
    writeFileSync(config, `[req]\ndistinguished_name=dn\nstring_mask=${mask}\n[dn]\n`);
    const cert = join(dir, 'cert.pem');
    execFileSync('openssl', ['req', '-new', '-x509', '-key', key, '-config', config, '-utf8', '-multivalue-rdn', '-subj', subject, '-days', '1', '-out', cert]);
    const want = execFileSync('openssl', ['x509', '-noout', '-subject_hash', '-in', cert]).toString().trim();
    assert.equal(subjectHash(der(readFileSync(cert, 'latin1'))), want, `${mask} ${JSON.stringify(subject)}`);
  }
});

test('every hashed name of /etc/ssl/certs is the hash of the certificate it holds', () => {
  const names = readdirSync('/etc/ssl/certs').filter((n) => /^[0-9a-f]{8}\.\d+$/.test(n));
  assert.ok(names.length > 50, 'the system has a CA directory (ca-certificates)');
  for (const name of names) {
    assert.equal(subjectHash(der(readFileSync(join('/etc/ssl/certs', name), 'latin1'))), name.slice(0, 8), name);
  }
});

test('not a certificate: no hash', () => {
  assert.equal(subjectHash(Buffer.from('30030201', 'hex')), undefined);
  assert.equal(subjectHash(Buffer.alloc(0)), undefined);
});

test('a multi-valued RDN hashes the same in any order (its canonical form is a sorted DER SET)', () => {
  const tlv = (tag: number, body: Buffer): Buffer => Buffer.concat([Buffer.from([tag, body.length]), body]);
  const attr = (oid: number[], tag: number, text: string): Buffer => tlv(0x30, Buffer.concat([tlv(0x06, Buffer.from(oid)), tlv(tag, Buffer.from(text, 'latin1'))]));
  const cn = attr([0x55, 0x04, 0x03], 0x0c, 'Zebra Long Name');
  const o = attr([0x55, 0x04, 0x0a], 0x13, 'b');
  const c = attr([0x55, 0x04, 0x06], 0x13, 'FR');
  const name = (...attrs: Buffer[]): Buffer => tlv(0x30, Buffer.concat([tlv(0x31, c), tlv(0x31, Buffer.concat(attrs))]));
  const sorted = nameDerHash(name(o, cn));
  assert.match(String(sorted), /^[0-9a-f]{8}$/);
  assert.equal(nameDerHash(name(cn, o)), sorted);
  assert.notEqual(nameDerHash(name(cn)), sorted);
});
