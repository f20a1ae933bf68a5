// s6-ucspitlsc against a real SMTP server with STARTTLS (aiosmtpd), driven
// by an application written for the C s6-ucspitlsc (test/helpers/ucspi-smtp-app.ts).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'fs';
import { join } from 'path';
import { Pki, Cert, certSha256 } from './helpers/pki';
import { REPO, runCommand, runWithSocket, parseNotification } from './helpers/harness';
import { startMailServer, MailServer } from './helpers/mailserver';
import { SMTP_APP } from './helpers/ucspi-smtp-app';

const UCSPITLSC = join(REPO, 'bin', 's6-ucspitlsc');

let pki: Pki;
let root: Cert;
let leaf: Cert;
let stranger: Cert;
let smtp: MailServer;

before(async () => {
  pki = new Pki();
  root = pki.cert('root', { ca: true });
  leaf = pki.cert('leaf', { issuer: root, cn: 'mail.test', dns: ['mail.test'] });
  stranger = pki.cert('stranger', { ca: true });
  smtp = await startMailServer('smtp', leaf);
});
after(async () => {
  await smtp.close();
  pki.remove();
});

interface Transcript {
  cleartext: string[];
  tls: string[];
  report: string | null;
  events: string[];
  uid?: number;
  siblings?: string[][];
}

/** Runs the application as users would: tcpclient (ucspi-tcp) -> s6-ucspitlsc -> app, with blocking descriptors. */
async function runApp(tag: string, mode: string, exitCode: number, opts: { args?: string[]; env?: Record<string, string> } = {}): Promise<{ r: { code: number | null; stderr: string }; t: Transcript }> {
  const file = join(pki.dir, `${tag}.json`);
  const args = [...(opts.args ?? ['-k', 'mail.test']), '/usr/bin/python3', '-c', SMTP_APP, mode, file, String(exitCode)];
  const r = await runCommand('tcpclient', ['-RHl0', '127.0.0.1', String(smtp.port), UCSPITLSC, ...args], { CAFILE: root.certPath, ...opts.env });
  let t: Transcript;
  try {
    t = JSON.parse(readFileSync(file, 'utf8')) as Transcript;
  } catch {
    throw new Error(`no transcript from the application (exit ${r.code}): ${r.stderr}`);
  }
  return { r, t };
}

test('an application written for the C s6-ucspitlsc: SMTP in cleartext on 6/7, STARTTLS, Y, the report on SSLCTLFD, then EHLO again through the pipes', async () => {
  const delivered = smtp.nextDelivery();
  const { r, t } = await runApp('submission', 'Y', 0);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stderr, '');
  assert.deepEqual(t.events, ["after QUIT: b''"]);
  // One process for s6-ucspitlsc and its TLS side: prog has no sibling.
  assert.deepEqual(t.siblings, []);
  assert.match(t.cleartext[0], /^220 mail\.test /);
  assert.ok(t.cleartext.includes('250-STARTTLS'), t.cleartext.join('|'));
  assert.equal(t.cleartext.at(-1), '220 Ready to start TLS');
  // After STARTTLS the server no longer offers it (RFC 3207): the same server, under TLS.
  assert.equal(t.tls[0], '250-mail.test');
  assert.ok(!t.tls.some((l) => /STARTTLS/.test(l)), t.tls.join('|'));
  assert.equal(t.tls.at(-1), '221 Bye');
  // The report: section 5's bytes, exactly.
  const report = Buffer.from(t.report ?? '', 'hex');
  const keys = parseNotification(report);
  assert.deepEqual(keys.slice(0, 5), [
    'SSL_PROTOCOL=TLSv1.3',
    'SSL_CIPHER=TLS_AES_256_GCM_SHA384',
    'SSL_TLS_SNI_SERVERNAME=mail.test',
    `SSL_PEER_CERT_HASH=SHA256:${certSha256(leaf)}`,
    'SSL_PEER_CERT_SUBJECT=C=FR, O=s6-tlsc-io tests, CN=mail.test',
  ]);
  // Beyond the five: the key exchange group, where this Node can name it (none other here).
  assert.ok(keys.length === 5 || (keys.length === 6 && /^SSL_KEX_GROUP=[A-Za-z0-9]+$/.test(keys[5])), keys.join(' '));
  const d = await delivered;
  assert.equal(d.tls, true);
  assert.equal(d.version, 'TLSv1.3');
  assert.equal(d.from, 'me@client.test');
  assert.deepEqual(d.to, ['you@mail.test']);
  assert.equal(d.data, 'Subject: through s6-ucspitlsc\r\n\r\nsecret body line\r\n');
});

test('y: TLS without a report (the control socket just closes), TLS 1.2 by --max-protocol, -v 2 says it was accepted', async () => {
  const delivered = smtp.nextDelivery();
  const { r, t } = await runApp('lower-y', 'y', 4, { args: ['-k', 'mail.test', '-v', '2', '--max-protocol=TLSv1.2'] });
  assert.equal(r.code, 4, r.stderr);
  assert.match(r.stderr, /^s6-ucspitlsc: info: accepted opportunistic TLS$/m);
  assert.equal(t.report, null);
  assert.equal(t.tls.at(-1), '221 Bye');
  const d = await delivered;
  assert.equal(d.tls, true);
  assert.equal(d.version, 'TLSv1.2');
});

test('declined: the control socket closed before any command; prog keeps the cleartext connection and its exit code is ours', async () => {
  const { r, t } = await runApp('decline', 'decline', 7, { args: ['-v2', '-k', 'mail.test'] });
  assert.equal(r.code, 7);
  assert.match(r.stderr, /^s6-ucspitlsc: info: declined opportunistic TLS$/m);
  assert.doesNotMatch(r.stderr, /fatal/);
  assert.equal(t.cleartext.at(-1), '221 Bye');
});

test('an unknown command byte: exit 100 with one fatal line, prog sees EOF on SSLREADFD', async () => {
  const { r, t } = await runApp('bad', 'bad', 0);
  assert.equal(r.code, 100);
  assert.equal(r.stderr, 's6-ucspitlsc: fatal: unrecognized command on control socket\n');
  assert.deepEqual(t.events, ["SSLREADFD: b''"]);
});

test('prog dying before the command (code passed on) and right after it (no hang, its code)', async () => {
  const before = await runWithSocket(smtp.port, ['sh', '-c', 'exit 5'], { bin: UCSPITLSC, env: { CAFILE: root.certPath } });
  assert.equal(before.code, 5);
  assert.equal(before.stderr.replace(/^.*warning: no servername.*\n/m, ''), '');
  const { r } = await runApp('die', 'die', 6);
  assert.equal(r.code, 6);
  assert.doesNotMatch(r.stderr, /fatal/);
});

test('a certificate that fails verification after STARTTLS: one fatal line, no report, EOF on SSLREADFD, writes fail; prog\'s code', async () => {
  const { r, t } = await runApp('failing', 'failing', 3, { env: { CAFILE: stranger.certPath } });
  assert.equal(r.code, 3);
  assert.match(r.stderr, /^s6-ucspitlsc: fatal: certificate verification failed/);
  assert.equal(r.stderr.split('\n').length, 2, r.stderr);
  assert.equal(t.report, '');
  assert.deepEqual(t.events, ["SSLREADFD: b''", 'write failed: EPIPE']);
});

test('-z (default) removes CADIR CAFILE CERTFILE KEYFILE TLS_UID TLS_GID from prog\'s environment; -Z keeps them; SSL*FD are three free descriptors, all socket pairs', async () => {
  const env = { CAFILE: root.certPath, CADIR: '', CERTFILE: '/c', KEYFILE: '/k', TLS_UID: '0', TLS_GID: '0', OTHER: 'kept' };
  const show = ['sh', '-c', 'for v in CAFILE CERTFILE KEYFILE TLS_UID TLS_GID OTHER SSLCTLFD SSLREADFD SSLWRITEFD; do eval "echo $v=\\${$v-unset}"; done; for fd in $SSLCTLFD $SSLREADFD $SSLWRITEFD 6 7; do stat -L -c %F /proc/self/fd/$fd; done'];
  const clean = await runWithSocket(smtp.port, ['-k', 'mail.test', ...show], { bin: UCSPITLSC, env });
  assert.equal(clean.code, 0, clean.stderr);
  assert.equal(
    clean.stdout.toString(),
    'CAFILE=unset\nCERTFILE=unset\nKEYFILE=unset\nTLS_UID=unset\nTLS_GID=unset\nOTHER=kept\nSSLCTLFD=3\nSSLREADFD=4\nSSLWRITEFD=5\nsocket\nsocket\nsocket\nsocket\nsocket\n',
  );
  const kept = await runWithSocket(smtp.port, ['-Z', '-k', 'mail.test', ...show], { bin: UCSPITLSC, env });
  assert.match(kept.stdout.toString(), new RegExp(`^CAFILE=${root.certPath}\nCERTFILE=/c\nKEYFILE=/k\nTLS_UID=0\nTLS_GID=0\n`));
});

test('as root with TLS_UID/TLS_GID: the TLS side drops privileges, prog keeps the caller\'s identity, and the submission still goes through', async () => {
  assert.equal(process.getuid?.(), 0, 'the test suite runs as root (CI does)');
  const delivered = smtp.nextDelivery();
  const { r, t } = await runApp('dropped', 'Y', 0, { env: { TLS_UID: '65534', TLS_GID: '65533' } });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(t.tls.at(-1), '221 Bye');
  assert.match(Buffer.from(t.report ?? '', 'hex').toString(), /^SSL_PROTOCOL=TLSv1\.3\0/);
  assert.equal(t.uid, 0);
  assert.deepEqual(t.siblings, [['65534', '65534', '65534', '65534']]);
  assert.equal((await delivered).tls, true);
});

test('usage: no prog, bad descriptors, and missing CAFILE exit 100 before prog runs', async () => {
  for (const [args, env] of [[[], { CAFILE: root.certPath }], [['-6', '2', 'true'], { CAFILE: root.certPath }], [['-6', '7', 'true'], { CAFILE: root.certPath }], [['true'], {}]] as const) {
    const r = await runWithSocket(smtp.port, [...args], { bin: UCSPITLSC, env });
    assert.equal(r.code, 100, `${args.join(' ')}: ${r.stderr}`);
    // Wrong command lines get the usage line; only the missing CAFILE is a fatal line.
    assert.match(r.stderr, env.CAFILE ? /^s6-ucspitlsc: usage: (missing prog|rfd and wfd must be 3 or more, and different): s6-ucspitlsc \[ / : /^s6-ucspitlsc: fatal: CADIR or CAFILE not set\n$/);
  }
});
