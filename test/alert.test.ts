// A refused certificate is answered with a fatal alert (RFC 8446 6.2,
// RFC 5246 7.2.2): the server learns why the client went away instead of
// logging a bare end of stream. Each case runs the real program against a
// real server, OpenSSL's s_server (its -msg trace names every alert it reads)
// and Node's tls server (its socket error names the alert), in TLS 1.3 and
// 1.2 and with every AEAD suite; the exit code and the words stay those of
// the verification failure.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'events';
import { runWithSocket } from './helpers/harness';
import { Pki, Cert, daysFromNow } from './helpers/pki';
import { startOpensslServer, startTlsServer } from './helpers/servers';
import { ALERT, alertFor, OutgoingRecords, parseServerHello, sealAlert } from '../src/engine/alert';

const NAME = 'alert.example.test';

let pki: Pki;
let root: Cert;
let leaf: Cert;
let expired: Cert;
let untrusted: Cert;
let weak: Cert;

before(() => {
  pki = new Pki();
  root = pki.cert('root', { ca: true, cn: 'Alert Root' });
  const other = pki.cert('other', { ca: true, cn: 'Alert Other Root' });
  leaf = pki.cert('leaf', { issuer: root, dns: [NAME] });
  expired = pki.cert('expired', { issuer: root, dns: [NAME], notBefore: daysFromNow(-30), notAfter: daysFromNow(-1) });
  untrusted = pki.cert('untrusted', { issuer: other, dns: [NAME] });
  weak = pki.cert('weak', { issuer: root, dns: [NAME], keyType: 'rsa1024' });
});

interface Case {
  what: string;
  cert: () => Cert;
  name: string;
  alert: number;
  /** OpenSSL's words for the alert, in s_server's -msg trace */
  openssl: string;
  words: RegExp;
}

const CASES: Case[] = [
  { what: 'a name mismatch', cert: () => leaf, name: 'wrong.example.test', alert: ALERT.bad_certificate, openssl: 'bad_certificate', words: /hostname mismatch: wrong\.example\.test: certificate is valid for alert\.example\.test/ },
  { what: 'an unknown CA', cert: () => untrusted, name: NAME, alert: ALERT.unknown_ca, openssl: 'unknown_ca', words: /certificate verification failed: certificate issuer is unknown/ },
  { what: 'an expired certificate', cert: () => expired, name: NAME, alert: ALERT.certificate_expired, openssl: 'certificate_expired', words: /certificate verification failed: certificate has expired/ },
];

const SUITES: { tls: '1.3' | '1.2'; suite: string }[] = [
  { tls: '1.3', suite: 'TLS_AES_128_GCM_SHA256' },
  { tls: '1.3', suite: 'TLS_AES_256_GCM_SHA384' },
  { tls: '1.3', suite: 'TLS_CHACHA20_POLY1305_SHA256' },
  { tls: '1.2', suite: 'ECDHE-ECDSA-AES128-GCM-SHA256' },
  { tls: '1.2', suite: 'ECDHE-ECDSA-AES256-GCM-SHA384' },
  { tls: '1.2', suite: 'ECDHE-ECDSA-CHACHA20-POLY1305' },
];

function run(port: number, name: string, options: string[] = []) {
  return runWithSocket(port, [...options, '-k', name, '6', '7'], { env: { CAFILE: root.certPath }, stdin: 'never sent', timeoutMs: 120000 });
}

/** The alert s_server's -msg trace shows it read, as [level, description]. */
function alertRead(trace: string): number[] | undefined {
  // "<<< TLS 1.3, Alert [length 0002], fatal bad_certificate" then the two bytes.
  const received = /<<< [^\n]*Alert[^\n]*\n\s*([0-9a-f]{2}) ([0-9a-f]{2})/.exec(trace);
  return received ? [parseInt(received[1], 16), parseInt(received[2], 16)] : undefined;
}

async function opensslRun(cert: Cert, serverArgs: string[], name: string, options: string[] = []) {
  const server = await startOpensslServer(['-cert', cert.certPath, '-key', cert.keyPath, '-msg', ...serverArgs]);
  const r = await run(server.port, name, options);
  const trace = await Promise.race([server.output, once(server.process, 'exit').then(() => server.output)]);
  server.process.kill();
  return { r, trace };
}

describe('a refused certificate sends the server a fatal alert (openssl s_server -msg)', () => {
  for (const { tls, suite } of SUITES) {
    for (const c of CASES) {
      it(`${c.what}, TLS ${tls} ${suite}`, async () => {
        const suiteArgs = tls === '1.3' ? ['-tls1_3', '-ciphersuites', suite] : ['-tls1_2', '-cipher', suite];
        const { r, trace } = await opensslRun(c.cert(), suiteArgs, c.name);
        assert.equal(r.code, 98, r.stderr);
        assert.match(r.stderr, /^s6-tlsc-io: fatal: [^\n]+\n$/);
        assert.match(r.stderr, c.words);
        assert.deepEqual(alertRead(trace), [2, c.alert], trace);
        assert.match(trace, new RegExp(`fatal ${c.openssl}`));
      });
    }
  }
});

describe('our own checks send bad_certificate too (pins, policy)', () => {
  for (const tls of ['1.3', '1.2'] as const) {
    const version = tls === '1.3' ? ['-tls1_3'] : ['-tls1_2'];
    const otherPin = `--pin=SHA256:${'ab'.repeat(32)}`;
    it(`a pin mismatch, TLS ${tls}`, async () => {
      const { r, trace } = await opensslRun(leaf, version, NAME, [otherPin]);
      assert.equal(r.code, 98, r.stderr);
      assert.match(r.stderr, /^s6-tlsc-io: fatal: certificate pin mismatch: /);
      assert.deepEqual(alertRead(trace), [2, ALERT.bad_certificate], trace);
    });
    it(`a pin mismatch with --no-verify-cert, TLS ${tls}`, async () => {
      const { r, trace } = await opensslRun(untrusted, version, NAME, ['--no-verify-cert', otherPin]);
      assert.equal(r.code, 98, r.stderr);
      assert.match(r.stderr, /^s6-tlsc-io: fatal: certificate pin mismatch: /);
      assert.deepEqual(alertRead(trace), [2, ALERT.bad_certificate], trace);
    });
    it(`a key below the policy's minimum (RSA 1024, OpenSSL's own level lifted), TLS ${tls}`, async () => {
      const { r, trace } = await opensslRun(weak, [...version, '-cipher', 'DEFAULT:@SECLEVEL=0'], NAME, ['--min-protocol=TLSv1']);
      assert.equal(r.code, 98, r.stderr);
      assert.match(r.stderr, /^s6-tlsc-io: fatal: certificate verification failed: [^\n]*RSA[^\n]*\n$/);
      assert.deepEqual(alertRead(trace), [2, ALERT.bad_certificate], trace);
    });
  }
});

describe('a refused certificate sends the server a fatal alert (Node tls server)', () => {
  for (const tls of ['1.3', '1.2'] as const) {
    for (const c of CASES) {
      it(`${c.what}, TLS ${tls}`, async () => {
        const version = tls === '1.3' ? 'TLSv1.3' : 'TLSv1.2';
        const server = await startTlsServer({ leaf: c.cert(), minVersion: version, maxVersion: version }, () => undefined);
        try {
          const r = await run(server.port, c.name);
          assert.equal(r.code, 98, r.stderr);
          assert.match(r.stderr, c.words);
          // The server's socket reports the alert it read, once it reads it.
          for (let i = 0; i < 600 && server.errors.length === 0; i++) await new Promise((resolve) => setTimeout(resolve, 100));
          const codes = server.errors.map((e) => (e as Error & { code?: string }).code);
          // OpenSSL 3.0 says ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE, 3.5 ERR_SSL_SSL/TLS_ALERT_BAD_CERTIFICATE.
          assert.equal(codes.length, 1, String(codes));
          assert.match(String(codes[0]), new RegExp(`^ERR_SSL_(SSLV3|TLSV1|SSL/TLS)_ALERT_${c.openssl.toUpperCase()}$`));
        } finally {
          await server.close();
        }
      });
    }
  }
});

describe('the alert record', () => {
  it('is the one each verification failure calls for', () => {
    assert.equal(alertFor(Object.assign(new Error('x'), { code: 'HOSTNAME_MISMATCH' })), ALERT.bad_certificate);
    assert.equal(alertFor(Object.assign(new Error('x'), { code: 'VERIFICATION_FAILURE' })), ALERT.bad_certificate);
    assert.equal(alertFor(Object.assign(new Error('x'), { code: 'CERT_HAS_EXPIRED' })), ALERT.certificate_expired);
    assert.equal(alertFor(Object.assign(new Error('x'), { code: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' })), ALERT.unknown_ca);
    assert.equal(alertFor(Object.assign(new Error('x'), { code: 'INVALID_PURPOSE' })), ALERT.unsupported_certificate);
    // Not a verification failure: no alert of ours.
    assert.equal(alertFor(Object.assign(new Error('x'), { code: 'ECONNRESET' })), undefined);
    assert.equal(alertFor(new Error('x')), undefined);
  });

  it('is sealed as RFC 8448 says (TLS 1.3, AES-128-GCM, its simple 1-RTT handshake)', () => {
    // RFC 8448 3: the client application traffic secret, and the key and iv it derives.
    const secret = Buffer.from('9e40646ce79a7f9dc05af8889bce6552875afa0b06df0087f792ebb7c17504a5', 'hex');
    const hello = { random: Buffer.alloc(32), suite: 0x1301 };
    // The client's Finished went out: the application key, sequence 0.
    const sent = new OutgoingRecords();
    sent.feed(Buffer.from([22, 3, 1, 0, 1, 1, 23, 3, 3, 0, 2, 0]));
    sent.feed(Buffer.from([0]));
    const record = sealAlert({ application: secret, handshake: Buffer.alloc(32) }, hello, sent, ALERT.bad_certificate)!;
    assert.equal(record.length, 5 + 3 + 16);
    assert.deepEqual([...record.subarray(0, 5)], [23, 3, 3, 0, 19]);
    // Opened with RFC 8448's key and iv (sequence 0: the iv itself is the nonce).
    const { createDecipheriv } = require('crypto') as typeof import('crypto');
    const key = Buffer.from('17422dda596ed5d9acd890e3c63f5051', 'hex');
    const iv = Buffer.from('5b78923dee08579033e523d9', 'hex');
    const decipher = createDecipheriv('aes-128-gcm', key, iv);
    decipher.setAAD(record.subarray(0, 5));
    decipher.setAuthTag(record.subarray(record.length - 16));
    const inner = Buffer.concat([decipher.update(record.subarray(5, record.length - 16)), decipher.final()]);
    assert.deepEqual([...inner], [2, ALERT.bad_certificate, 21]);
  });

  it('counts the records sent, whatever cuts the writes, and picks the next key from them', () => {
    const sent = new OutgoingRecords();
    const flight = Buffer.from([22, 3, 1, 0, 2, 1, 1, 20, 3, 3, 0, 1, 1, 22, 3, 3, 0, 3, 9, 9, 9]);
    for (const byte of flight) sent.feed(Buffer.from([byte]));
    assert.equal(sent.count[22], 2);
    assert.equal(sent.count[20], 1);
    assert.equal(sent.afterChangeCipherSpec, 1);
    // TLS 1.2 before our ChangeCipherSpec: the server still reads in the clear.
    const clear = sealAlert({}, { random: Buffer.alloc(32), suite: 0xc02f }, new OutgoingRecords(), ALERT.unknown_ca);
    assert.deepEqual([...clear!], [21, 3, 3, 0, 2, 2, ALERT.unknown_ca]);
    // TLS 1.3 before our Finished went out: the handshake key; without it, nothing.
    assert.equal(sealAlert({ application: Buffer.alloc(32) }, { random: Buffer.alloc(32), suite: 0x1301 }, new OutgoingRecords(), 42), undefined);
    // A suite not handled (CBC): nothing.
    assert.equal(sealAlert({ tls12: { clientRandom: Buffer.alloc(32), master: Buffer.alloc(48) } }, { random: Buffer.alloc(32), suite: 0xc013 }, sent, 42), undefined);
  });

  it('reads the ServerHello even cut into one-byte records, and refuses anything else', () => {
    const body = Buffer.concat([Buffer.from([3, 3]), Buffer.alloc(32, 7), Buffer.from([32]), Buffer.alloc(32, 1), Buffer.from([0x13, 0x02, 0])]);
    const message = Buffer.concat([Buffer.from([2, 0, 0, body.length]), body]);
    const whole = Buffer.concat([Buffer.from([22, 3, 3, 0, message.length]), message]);
    assert.deepEqual(parseServerHello(whole), { random: Buffer.alloc(32, 7), suite: 0x1302 });
    const cut = Buffer.concat([...message].map((b) => Buffer.from([22, 3, 3, 0, 1, b])));
    assert.deepEqual(parseServerHello(cut), { random: Buffer.alloc(32, 7), suite: 0x1302 });
    assert.equal(parseServerHello(Buffer.from([21, 3, 3, 0, 2, 2, 40])), undefined);
    assert.equal(parseServerHello(whole.subarray(0, 40)), undefined);
  });
});

after(() => pki?.remove());
