// End to end: successful handshakes, the notification, trust anchor formats,
// client certificates. The real executable, a real TCP socket at fds 6 and 7.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'fs';
import { Pki, Cert, certSha256 } from './helpers/pki';
import { runWithSocket, parseNotification, sha256 } from './helpers/harness';
import { startTlsServer, echo, startOpensslServer } from './helpers/servers';
import { defaultGroupName } from './helpers/runtime';
import type { TLSSocket } from 'tls';

let pki: Pki;
let root: Cert;
let inter: Cert;
let leaf: Cert;
let clientCa: Cert;
let client: Cert;

before(() => {
  pki = new Pki();
  root = pki.cert('root', { ca: true, cn: 'Test Root' });
  inter = pki.cert('inter', { ca: true, issuer: root, cn: 'Test Intermediate' });
  leaf = pki.cert('leaf', { issuer: inter, cn: 'www.example.test', dns: ['www.example.test', 'alt.example.test'], ip: ['127.0.0.1'] });
  clientCa = pki.cert('clientca', { ca: true, cn: 'Client CA' });
  client = pki.cert('client', { issuer: clientCa, cn: 'client one', eku: 'clientAuth' });
});
after(() => pki.remove());

test('TLS 1.3: data both ways, exact notification bytes, exit 0', async () => {
  const server = await startTlsServer({ leaf, chain: [inter] }, echo);
  try {
    const r = await runWithSocket(server.port, ['-d', '3', '-k', 'www.example.test', '6', '7'], {
      env: { CAFILE: root.certPath },
      stdin: 'hello through TLS\n',
      notificationFd: 3,
    });
    assert.equal(r.stderr, '');
    assert.equal(r.code, 0);
    assert.equal(r.stdout.toString(), 'hello through TLS\n');
    const group = await defaultGroupName(leaf);
    const expected =
      'SSL_PROTOCOL=TLSv1.3\0' +
      'SSL_CIPHER=TLS_AES_256_GCM_SHA384\0' +
      'SSL_TLS_SNI_SERVERNAME=www.example.test\0' +
      `SSL_PEER_CERT_HASH=SHA256:${certSha256(leaf)}\0` +
      'SSL_PEER_CERT_SUBJECT=C=FR, O=s6-tlsc-io tests, CN=www.example.test\0' +
      // Beyond the five keys: the group agreed (the hybrid post-quantum one
      // where both ends have OpenSSL 3.5), where this Node can name it.
      (group ? `SSL_KEX_GROUP=${group}\0` : '') +
      '\0';
    assert.equal(r.notification!.toString(), expected);
  } finally {
    await server.close();
  }
});

test('TLS 1.2: data both ways, protocol in the notification', async () => {
  const server = await startTlsServer({ leaf, chain: [inter], maxVersion: 'TLSv1.2' }, echo);
  try {
    const r = await runWithSocket(server.port, ['-d3', '-kwww.example.test', '--', '6', '7'], {
      env: { CAFILE: root.certPath },
      stdin: 'tls12',
      notificationFd: 3,
    });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.toString(), 'tls12');
    const keys = parseNotification(r.notification!);
    assert.equal(keys[0], 'SSL_PROTOCOL=TLSv1.2');
    assert.match(keys[1], /^SSL_CIPHER=ECDHE-ECDSA-AES(128|256)-GCM-SHA(256|384)$/);
  } finally {
    await server.close();
  }
});

test('the SNI the server sees is the -k name; without -k none is sent, nothing is checked, and a warning says so', async () => {
  const seen: (string | false | null)[] = [];
  const server = await startTlsServer({ leaf, chain: [inter] }, (s: TLSSocket) => {
    seen.push(s.servername);
    echo(s);
  });
  try {
    const withK = await runWithSocket(server.port, ['-k', 'alt.example.test', '6', '7'], { env: { CAFILE: root.certPath }, stdin: 'x' });
    assert.equal(withK.code, 0, withK.stderr);
    const withoutK = await runWithSocket(server.port, ['-d', '3', '6', '7'], { env: { CAFILE: root.certPath }, stdin: 'y', notificationFd: 3 });
    assert.equal(withoutK.code, 0, withoutK.stderr);
    assert.equal(withoutK.stdout.toString(), 'y');
    assert.equal(withoutK.stderr, 's6-tlsc-io: warning: no servername given: SNI not used and the server name is not verified\n');
    assert.equal(parseNotification(withoutK.notification!)[2], 'SSL_TLS_SNI_SERVERNAME');
    const quiet = await runWithSocket(server.port, ['-v0', '6', '7'], { env: { CAFILE: root.certPath }, stdin: 'z' });
    assert.equal(quiet.stderr, '');
    assert.deepEqual(seen, ['alt.example.test', false, false]);
  } finally {
    await server.close();
  }
});

test('an IP literal -k is matched against the IP SAN and not sent as SNI', async () => {
  const seen: (string | false | null)[] = [];
  const server = await startTlsServer({ leaf, chain: [inter] }, (s: TLSSocket) => {
    seen.push(s.servername);
    echo(s);
  });
  try {
    const ok = await runWithSocket(server.port, ['-d', '3', '-k', '127.0.0.1', '6', '7'], { env: { CAFILE: root.certPath }, stdin: 'ip', notificationFd: 3 });
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal(ok.stdout.toString(), 'ip');
    assert.equal(parseNotification(ok.notification!)[2], 'SSL_TLS_SNI_SERVERNAME');
    const bad = await runWithSocket(server.port, ['-k', '127.0.0.2', '6', '7'], { env: { CAFILE: root.certPath }, stdin: 'ip' });
    assert.equal(bad.code, 98);
    assert.match(bad.stderr, /^s6-tlsc-io: fatal: hostname mismatch: 127\.0\.0\.2: certificate is valid for www\.example\.test, alt\.example\.test, 127\.0\.0\.1\n$/);
    assert.deepEqual(seen, [false]); // the rejected client may end before the server completes
  } finally {
    await server.close();
  }
});

test('trust anchors: CAFILE and CADIR, PEM and DER, and an intermediate CA as the only anchor', async () => {
  const server = await startTlsServer({ leaf, chain: [inter] }, echo);
  const derFile = pki.certDer(root);
  const cases: [string, Record<string, string>][] = [
    ['CAFILE PEM bundle', { CAFILE: pki.bundle('bundle.pem', [clientCa, root]) }],
    ['CADIR PEM', { CADIR: pki.caDir('cadir-pem', [clientCa, root]) }],
    ['CADIR DER', { CADIR: pki.caDir('cadir-der', [clientCa, root], 'der') }],
    ['CADIR wins over CAFILE', { CADIR: pki.caDir('cadir-only', [root]), CAFILE: clientCa.certPath }],
    ['intermediate anchor in CAFILE', { CAFILE: inter.certPath }],
    ['intermediate anchor in CADIR, DER', { CADIR: pki.caDir('cadir-inter', [inter], 'der') }],
  ];
  try {
    for (const [label, env] of cases) {
      const r = await runWithSocket(server.port, ['-k', 'www.example.test', '6', '7'], { env, stdin: label });
      assert.equal(r.code, 0, `${label}: ${r.stderr}`);
      assert.equal(r.stdout.toString(), label);
    }
    void derFile;
  } finally {
    await server.close();
  }
});

test('client certificate, PEM and DER, to a server that requires one; -Y sends none', async () => {
  const subjects: string[] = [];
  const server = await startTlsServer({ leaf, chain: [inter], clientCa }, (s: TLSSocket) => {
    subjects.push(s.getPeerCertificate().subject?.CN as string);
    echo(s);
  });
  try {
    const pem = await runWithSocket(server.port, ['-y', '-k', 'www.example.test', '6', '7'], {
      env: { CAFILE: root.certPath, CERTFILE: client.certPath, KEYFILE: client.keyPath },
      stdin: 'pem',
    });
    assert.equal(pem.code, 0, pem.stderr);
    assert.equal(pem.stdout.toString(), 'pem');
    const der = await runWithSocket(server.port, ['--client-cert', '-k', 'www.example.test', '6', '7'], {
      env: { CAFILE: root.certPath, CERTFILE: pki.certDer(client), KEYFILE: pki.keyDer(client) },
      stdin: 'der',
    });
    assert.equal(der.code, 0, der.stderr);
    assert.equal(der.stdout.toString(), 'der');
    assert.deepEqual(subjects, ['client one', 'client one']);
    const none = await runWithSocket(server.port, ['-y', '-Y', '-k', 'www.example.test', '6', '7'], {
      env: { CAFILE: root.certPath, CERTFILE: client.certPath, KEYFILE: client.keyPath },
      stdin: 'none',
    });
    assert.notEqual(none.code, 0);
    assert.equal(none.code, 98, none.stderr);
    assert.match(none.stderr, /^s6-tlsc-io: fatal: .*certificate required/m);
  } finally {
    await server.close();
  }
});

test('openssl s_server as the peer: handshake and data both ways', async () => {
  const server = await startOpensslServer(['-cert', leaf.certPath, '-key', leaf.keyPath, '-cert_chain', inter.certPath, '-quiet']);
  try {
    const payload = Buffer.alloc(100_000, 'q');
    const run = runWithSocket(server.port, ['-k', 'www.example.test', '6', '7'], {
      env: { CAFILE: root.certPath },
      stdin: payload,
      keepStdinOpen: true,
      onSpawn: (child) => {
        server.process.stdin!.write('from openssl\n');
        // s_server ends on our EOF; keep stdin open until it has answered.
        setTimeout(() => child.stdin!.end(), 500);
      },
    });
    const r = await run;
    const seen = await server.output;
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.toString(), 'from openssl\n');
    assert.equal(sha256(Buffer.from(seen.replace(/[^q]/g, ''), 'latin1')), sha256(payload));
  } finally {
    server.process.kill();
  }
});

test('--no-verify-cert accepts an untrusted server but still needs CADIR or CAFILE', async () => {
  const server = await startTlsServer({ leaf, chain: [inter] }, echo);
  try {
    const r = await runWithSocket(server.port, ['--no-verify-cert', '-k', 'wrong.example', '6', '7'], {
      env: { CAFILE: clientCa.certPath },
      stdin: 'insecure',
    });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.toString(), 'insecure');
    const strict = await runWithSocket(server.port, ['--no-verify-cert', '--verify-cert', '-k', 'www.example.test', '6', '7'], {
      env: { CAFILE: clientCa.certPath },
      stdin: 'x',
    });
    assert.equal(strict.code, 98);
    writeFileSync(pki.path('empty-env-marker'), '');
  } finally {
    await server.close();
  }
});

for (const version of ['TLSv1', 'TLSv1.1'] as const) {
  test(`liberal versions: a ${version}-only server is reached when TLS 1.0/1.1 are asked for, refused by default (SPEC section 4)`, async () => {
    const server = await startTlsServer({ leaf, chain: [inter], minVersion: version, maxVersion: version, ciphers: 'DEFAULT:@SECLEVEL=0' }, echo);
    try {
      // --min-protocol=TLSv1 (or TLSv1.1) lowers OpenSSL's security level to 0, which they need (src/trust/tls-settings.ts).
      const r = await runWithSocket(server.port, ['-d', '3', `--min-protocol=${version}`, '-k', 'www.example.test', '6', '7'], {
        env: { CAFILE: root.certPath },
        stdin: `old ${version}`,
        notificationFd: 3,
      });
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout.toString(), `old ${version}`);
      assert.equal(parseNotification(r.notification!)[0], `SSL_PROTOCOL=${version}`);
      // By default: TLS 1.2 and 1.3 only, and the words say how to reach such a server.
      const strict = await runWithSocket(server.port, ['-k', 'www.example.test', '6', '7'], { env: { CAFILE: root.certPath }, stdin: 'x' });
      assert.equal(strict.code, 98);
      assert.match(strict.stderr, /--min-protocol=TLSv1 or TLSv1\.1\)\n$/);
    } finally {
      await server.close();
    }
  });
}
