// s6-tlsclient --starttls=PROTO against real servers (aiosmtpd for SMTP and
// LMTP, Dovecot for IMAP and POP3, vsftpd for FTP, Prosody for XMPP,
// PostgreSQL) and scripted ones (NNTP, and the misbehaving servers). Each
// good case runs a prog that sends its post-STARTTLS commands on fd 7 and
// records every byte read from fd 6; the exact bytes and the server's own
// view (TLS, or an answer it gives only under TLS) are asserted.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'fs';
import { join } from 'path';
import { Pki, Cert } from './helpers/pki';
import { REPO, cleanEnv, runCommand } from './helpers/harness';
import { spawn } from 'child_process';
import { once } from 'events';
import { startMailServer } from './helpers/mailserver';
import { startDovecot, startExim, startPgbouncer, startPostgres, startProsody, startVsftpd } from './helpers/realservers';
import { startScriptedServer, Conversation } from './helpers/scripted';

const TLSCLIENT = join(REPO, 'bin', 's6-tlsclient');

let pki: Pki;
let root: Cert;
let leaf: Cert;
let counter = 0;

before(() => {
  pki = new Pki();
  root = pki.cert('root', { ca: true });
  leaf = pki.cert('leaf', { issuer: root, cn: 'mail.test', dns: ['mail.test'] });
});
after(() => pki.remove());

interface Outcome {
  code: number | null;
  stderr: string;
  /** every byte prog read from fd 6 */
  received: Buffer;
  /** whether prog ran at all */
  ran: boolean;
}

/** s6-tlsclient --starttls=proto to port, prog sending `commands` then reading to EOF. */
async function throughTunnel(proto: string, port: number, commands: string | Buffer, args: string[] = []): Promise<Outcome> {
  const n = ++counter;
  const input = pki.path(`cmd${n}`);
  const output = pki.path(`out${n}`);
  writeFileSync(input, commands);
  const prog = ['sh', '-c', 'cat "$1" >&7; exec cat <&6 > "$2"', 'sh', input, output];
  const r = await runCommand(TLSCLIENT, [`--starttls=${proto}`, '-k', 'mail.test', ...args, '127.0.0.1', String(port), ...prog], { CAFILE: root.certPath });
  const ran = existsSync(output);
  return { code: r.code, stderr: r.stderr, received: ran ? readFileSync(output) : Buffer.alloc(0), ran };
}

test('smtp (aiosmtpd): EHLO again under TLS (AUTH offered only now), a message submitted, the server saw TLS; -v 2 shows the cleartext dialogue', async () => {
  const smtp = await startMailServer('smtp', leaf);
  try {
    const delivered = smtp.nextDelivery();
    const r = await throughTunnel(
      'smtp',
      smtp.port,
      'EHLO client.test\r\nMAIL FROM:<me@client.test>\r\nRCPT TO:<you@mail.test>\r\nDATA\r\nSubject: s\r\n\r\nbody\r\n.\r\nQUIT\r\n',
      ['--verbosity=2', '-l', 'client.test'],
    );
    assert.equal(r.code, 0, r.stderr);
    assert.equal(
      r.received.toString(),
      '250-mail.test\r\n250-SIZE 33554432\r\n250-8BITMIME\r\n250-AUTH LOGIN PLAIN\r\n250 HELP\r\n250 OK\r\n250 OK\r\n354 End data with <CR><LF>.<CR><LF>\r\n250 accepted\r\n221 Bye\r\n',
    );
    const d = await delivered;
    assert.equal(d.tls, true);
    assert.equal(d.data, 'Subject: s\r\n\r\nbody\r\n');
    assert.match(r.stderr, /^s6-tlsclient: info: S: 220 mail\.test /m);
    assert.match(r.stderr, /^s6-tlsclient: info: C: EHLO client\.test$/m);
    assert.match(r.stderr, /^s6-tlsclient: info: S: 250-STARTTLS$/m);
    assert.match(r.stderr, /^s6-tlsclient: info: C: STARTTLS$/m);
    assert.match(r.stderr, /^s6-tlsclient: info: S: 220 Ready to start TLS$/m);
  } finally {
    await smtp.close();
  }
});

test('smtp: a server that does not offer STARTTLS: exit 98 with its EHLO answer, prog never runs, nothing sent in cleartext', async () => {
  const smtp = await startMailServer('smtp', leaf, { offerStarttls: false });
  try {
    const r = await throughTunnel('smtp', smtp.port, 'MAIL FROM:<me@client.test>\r\n');
    assert.equal(r.code, 98);
    assert.match(r.stderr, /^s6-tlsclient: fatal: smtp server does not offer STARTTLS: 250-mail\.test \/ .*250 HELP\n$/);
    assert.equal(r.ran, false);
    assert.equal(smtp.deliveries.length, 0);
  } finally {
    await smtp.close();
  }
});

test('lmtp (aiosmtpd): LHLO, STARTTLS, LHLO again under TLS', async () => {
  const lmtp = await startMailServer('lmtp', leaf);
  try {
    const delivered = lmtp.nextDelivery();
    const r = await throughTunnel('lmtp', lmtp.port, 'LHLO client.test\r\nMAIL FROM:<a@client.test>\r\nRCPT TO:<b@mail.test>\r\nDATA\r\nhi\r\n.\r\nQUIT\r\n');
    assert.equal(r.code, 0, r.stderr);
    assert.equal(
      r.received.toString(),
      '250-mail.test\r\n250-SIZE 33554432\r\n250-8BITMIME\r\n250-AUTH LOGIN PLAIN\r\n250 HELP\r\n250 OK\r\n250 OK\r\n354 End data with <CR><LF>.<CR><LF>\r\n250 accepted\r\n221 Bye\r\n',
    );
    assert.equal((await delivered).tls, true);
  } finally {
    await lmtp.close();
  }
});

test('imap and pop3 (Dovecot): capabilities again under TLS (no STARTTLS/STLS any more), a login, and Dovecot logs TLS', async () => {
  const dovecot = await startDovecot(leaf);
  try {
    const imap = await throughTunnel('imap', dovecot.ports.imap, 'a CAPABILITY\r\nb LOGIN alice secret\r\nc LOGOUT\r\n');
    assert.equal(imap.code, 0, imap.stderr);
    const lines = imap.received.toString().split('\r\n');
    assert.equal(lines[0], '* CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE LITERAL+ AUTH=PLAIN');
    assert.equal(lines[1], 'a OK Pre-login capabilities listed, post-login capabilities have more.');
    assert.match(lines[2], /^b OK \[CAPABILITY IMAP4rev1 .*\] Logged in$/);
    assert.equal(lines[3], '* BYE Logging out');
    assert.match(lines[4], /^c OK Logout completed/);
    assert.equal(lines.length, 6);
    const pop3 = await throughTunnel('pop3', dovecot.ports.pop3, 'CAPA\r\nUSER bob\r\nPASS secret\r\nQUIT\r\n');
    assert.equal(pop3.code, 0, pop3.stderr);
    assert.equal(
      pop3.received.toString(),
      '+OK\r\nCAPA\r\nTOP\r\nUIDL\r\nRESP-CODES\r\nPIPELINING\r\nAUTH-RESP-CODE\r\nUSER\r\nSASL PLAIN\r\n.\r\n+OK\r\n+OK Logged in.\r\n+OK Logging out.\r\n',
    );
    const log = dovecot.log();
    assert.match(log, /imap-login: Info: Login: user=<alice>, method=PLAIN, .*, TLS, /);
    assert.match(log, /pop3-login: Info: Login: user=<bob>, method=PLAIN, .*, TLS, /);
  } finally {
    await dovecot.stop();
  }
});

test('ftp (vsftpd): AUTH TLS; the anonymous login vsftpd refuses in cleartext is asked its password under TLS', async () => {
  const ftp = await startVsftpd(leaf);
  try {
    const r = await throughTunnel('ftp', ftp.ports.ftp, 'USER anonymous\r\nQUIT\r\n');
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.received.toString(), '331 Please specify the password.\r\n221 Goodbye.\r\n');
  } finally {
    await ftp.stop();
  }
});

test('xmpp (Prosody, TLS required): a new stream under TLS offers SASL ANONYMOUS and no starttls; an unknown host gets its stream error quoted', async () => {
  const xmpp = await startProsody(leaf, 'mail.test');
  try {
    const header = "<?xml version='1.0'?><stream:stream to='mail.test' version='1.0' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>";
    const r = await throughTunnel('xmpp', xmpp.ports.xmpp, `${header}</stream:stream>`);
    assert.equal(r.code, 0, r.stderr);
    const text = r.received.toString();
    assert.match(text, /^<\?xml version='1\.0'\?><stream:stream [^>]*from='mail\.test'[^>]*>/);
    assert.match(text, /<mechanism>ANONYMOUS<\/mechanism>/);
    assert.doesNotMatch(text, /starttls/);
    assert.match(text, /<\/stream:stream>$/);
    // A host Prosody does not serve: its stream error before TLS, in words, and shown under -v 2
    const unknown = await throughTunnel('xmpp', xmpp.ports.xmpp, 'x', ['-k', 'other.test', '--verbosity=2']);
    assert.equal(unknown.code, 98);
    assert.match(unknown.stderr, /^s6-tlsclient: info: S: .*<stream:error><host-unknown /m);
    assert.match(unknown.stderr, /^s6-tlsclient: fatal: xmpp server refused the stream: host-unknown( \(.+\))?$/m);
    assert.equal(unknown.ran, false);
  } finally {
    await xmpp.stop();
  }
});

test('postgres (PostgreSQL, hostssl only): SSLRequest, then the startup message under TLS is accepted', async () => {
  const pg = await startPostgres(leaf);
  try {
    const params = Buffer.from('user\0postgres\0database\0postgres\0\0');
    const startup = Buffer.alloc(8 + params.length);
    startup.writeUInt32BE(startup.length, 0);
    startup.writeUInt32BE(196608, 4);
    params.copy(startup, 8);
    const terminate = Buffer.from([0x58, 0, 0, 0, 4]);
    const r = await throughTunnel('postgres', pg.ports.postgres, Buffer.concat([startup, terminate]));
    assert.equal(r.code, 0, r.stderr);
    // AuthenticationOk first, ReadyForQuery ('Z', length 5, idle) last.
    assert.deepEqual(r.received.subarray(0, 9), Buffer.from([0x52, 0, 0, 0, 8, 0, 0, 0, 0]));
    assert.deepEqual(r.received.subarray(-6), Buffer.from([0x5a, 0, 0, 0, 5, 0x49]));
  } finally {
    await pg.stop();
  }
});

/** An NNTP server by RFC 4642 (scripted: Debian's INN is no quick throwaway). */
async function nntpScript(c: Conversation): Promise<void> {
  c.send('200 news.test ready\r\n');
  assert.equal(await c.line(), 'CAPABILITIES');
  c.send('101 Capability list:\r\nVERSION 2\r\nREADER\r\nSTARTTLS\r\n.\r\n');
  assert.equal(await c.line(), 'STARTTLS');
  c.send('382 Continue with TLS negotiation\r\n');
  await c.startTls(leaf);
  assert.equal(await c.line(), 'CAPABILITIES');
  c.send('101 Capability list:\r\nVERSION 2\r\nREADER\r\n.\r\n');
  assert.equal(await c.line(), 'QUIT');
  c.send('205 bye\r\n');
  c.close();
}

test('nntp (scripted server): CAPABILITIES, STARTTLS, CAPABILITIES again under TLS', async () => {
  const server = await startScriptedServer(nntpScript);
  try {
    const r = await throughTunnel('nntp', server.port, 'CAPABILITIES\r\nQUIT\r\n');
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.received.toString(), '101 Capability list:\r\nVERSION 2\r\nREADER\r\n.\r\n205 bye\r\n');
    assert.deepEqual(server.transcripts[0], ['CAPABILITIES', 'STARTTLS', '(TLS TLSv1.3)', 'CAPABILITIES', 'QUIT']);
  } finally {
    await server.close();
  }
});

/** A PostgreSQL message: its type byte, its length, its body. */
function pgMessage(type: string, body: Buffer): Buffer {
  const head = Buffer.alloc(5);
  head.write(type, 'latin1');
  head.writeUInt32BE(body.length + 4, 1);
  return Buffer.concat([head, body]);
}

test('postgres (PgBouncer): SSLRequest, then its admin console under TLS says this client is on TLSv1.3; with TLS disabled its N is shown and quoted', async () => {
  const params = Buffer.from('user\0tester\0database\0pgbouncer\0\0');
  const startup = Buffer.alloc(8 + params.length);
  startup.writeUInt32BE(startup.length, 0);
  startup.writeUInt32BE(196608, 4);
  params.copy(startup, 8);
  const messages = Buffer.concat([startup, pgMessage('Q', Buffer.from('SHOW CLIENTS;\0')), pgMessage('X', Buffer.alloc(0))]);
  const bouncer = await startPgbouncer(leaf, 'allow');
  try {
    const r = await throughTunnel('postgres', bouncer.ports.postgres, messages, ['--verbosity=2']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /^s6-tlsclient: info: C: SSLRequest\ns6-tlsclient: info: S: S$/m);
    // AuthenticationOk first; SHOW CLIENTS's row for us names the TLS version; ReadyForQuery last
    assert.deepEqual(r.received.subarray(0, 9), Buffer.from([0x52, 0, 0, 0, 8, 0, 0, 0, 0]));
    assert.match(r.received.toString('latin1'), /TLSv1\.3\/TLS_AES_256_GCM_SHA384/);
    assert.deepEqual(r.received.subarray(-6), Buffer.from([0x5a, 0, 0, 0, 5, 0x49]));
  } finally {
    await bouncer.stop();
  }
  const plain = await startPgbouncer(leaf, 'disable');
  try {
    const r = await throughTunnel('postgres', plain.ports.postgres, messages, ['--verbosity=2']);
    assert.equal(r.code, 98);
    assert.match(r.stderr, /^s6-tlsclient: info: S: N\ns6-tlsclient: fatal: postgres server refused SSL \(answered N to SSLRequest\)\n$/m);
    assert.equal(r.ran, false);
  } finally {
    await plain.stop();
  }
});

test('smtp (Exim, strict about the EHLO name): without -l our FQDN or address literal is accepted, a message goes in under TLS; -l with a bare name is refused with its words', async () => {
  const smtp = await startExim(leaf);
  try {
    const r = await throughTunnel(
      'smtp',
      smtp.ports.smtp,
      'EHLO client.test\r\nMAIL FROM:<me@client.test>\r\nRCPT TO:<you@mail.test>\r\nDATA\r\nSubject: s\r\n\r\nbody\r\n.\r\nQUIT\r\n',
      ['--verbosity=2'],
    );
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /^s6-tlsclient: info: C: EHLO (\[127\.0\.0\.1\]|[^.\s]+\.\S+)$/m);
    const received = r.received.toString();
    assert.match(received, /^250-mail\.test Hello client\.test \[127\.0\.0\.1\]\r\n/);
    assert.doesNotMatch(received, /STARTTLS/);
    assert.match(received, /\r\n250 OK id=\S+\r\n221 mail\.test closing connection\r\n$/);
    // Exim's log: the message came in over TLS (P=esmtps, X=the cipher)
    assert.match(smtp.log(), /<= me@client\.test H=\(client\.test\) \[127\.0\.0\.1\] P=esmtps X=TLS1\.3:/);
    const bare = await throughTunnel('smtp', smtp.ports.smtp, 'QUIT\r\n', ['-l', 'vm']);
    assert.equal(bare.code, 98);
    assert.equal(bare.stderr, 's6-tlsclient: fatal: smtp server refused EHLO: 550 HELO/EHLO name must be a FQDN or an address literal\n');
    assert.equal(bare.ran, false);
  } finally {
    await smtp.stop();
  }
});

/** SMTP greeting and EHLO with STARTTLS offered, then `then` for the STARTTLS command. */
function smtpUntilStarttls(then: (c: Conversation) => Promise<void> | void): (c: Conversation) => Promise<void> {
  return async (c) => {
    c.send('220 mail.test ESMTP\r\n');
    await c.line();
    c.send('250-mail.test\r\n250 STARTTLS\r\n');
    assert.equal(await c.line(), 'STARTTLS');
    await then(c);
  };
}

const badServers: [string, (c: Conversation) => Promise<void>, RegExp][] = [
  ['answers 454', smtpUntilStarttls((c) => c.send('454 4.7.0 TLS not available due to temporary reason\r\n')), /^s6-tlsclient: fatal: smtp server refused STARTTLS: 454 4\.7\.0 TLS not available due to temporary reason\n$/],
  ['closes mid-dialogue', async (c) => {
    c.send('220 mail.test ESMTP\r\n');
    await c.line();
    c.close();
  }, /^s6-tlsclient: fatal: smtp server closed the connection before TLS; it said last: 220 mail\.test ESMTP\n$/],
  ['sends garbage', async (c) => c.send('HTTP/1.1 400 Bad Request\r\n\r\n'), /^s6-tlsclient: fatal: smtp server: unexpected reply: HTTP\/1\.1 400 Bad Request\n$/],
  ['sends an endless line', async (c) => {
    const chunk = Buffer.alloc(64 * 1024, 0x41);
    for (let i = 0; i < 160; i++) c.send(chunk);
  }, /^s6-tlsclient: fatal: server sent a line longer than 8192 bytes before TLS\n$/],
  ['injects data after its go-ahead', smtpUntilStarttls((c) => c.send('220 go ahead\r\n250 injected\r\n')), /^s6-tlsclient: fatal: server sent data after its STARTTLS answer \(possible injection\); not starting TLS\n$/],
];

for (const [what, script, message] of badServers) {
  test(`smtp: a server that ${what}: exit 98 with its words, prog never runs`, async () => {
    const server = await startScriptedServer(script);
    try {
      const r = await throughTunnel('smtp', server.port, 'QUIT\r\n');
      assert.equal(r.code, 98);
      assert.match(r.stderr, message);
      assert.equal(r.ran, false);
    } finally {
      await server.close();
    }
  });
}

test('other refusals: imap NO, pop3 -ERR, ftp 500, xmpp failure, postgres N, nntp 502: each exit 98 with the words', async () => {
  const cases: [string, (c: Conversation) => Promise<void>, RegExp][] = [
    ['imap', async (c) => {
      c.send('* OK [CAPABILITY IMAP4rev1 STARTTLS] ready\r\n');
      await c.line();
      c.send('a2 NO not now\r\n');
    }, /imap server refused STARTTLS: a2 NO not now/],
    ['pop3', async (c) => {
      c.send('+OK ready\r\n');
      await c.line();
      c.send('+OK\r\nUSER\r\n.\r\n');
    }, /pop3 server does not offer STLS: USER/],
    ['ftp', async (c) => {
      c.send('220-welcome\r\n220 ready\r\n');
      await c.line();
      c.send('500 AUTH not understood\r\n');
    }, /ftp server refused AUTH TLS: 500 AUTH not understood/],
    ['xmpp', async (c) => {
      c.send("<?xml version='1.0'?><stream:stream from='mail.test' xmlns:stream='http://etherx.jabber.org/streams'><stream:features><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/></stream:features>");
      c.send("<failure xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>");
    }, /xmpp server refused starttls: <failure xmlns='urn:ietf:params:xml:ns:xmpp-tls'\/>/],
    ['postgres', async (c) => c.send('N'), /postgres server refused SSL \(answered N to SSLRequest\)/],
    ['nntp', async (c) => {
      c.send('200 ready\r\n');
      await c.line();
      c.send('502 no capabilities\r\n');
    }, /nntp server refused CAPABILITIES: 502 no capabilities/],
  ];
  for (const [proto, script, message] of cases) {
    const server = await startScriptedServer(script);
    try {
      const r = await throughTunnel(proto, server.port, 'x');
      assert.equal(r.code, 98, `${proto}: ${r.stderr}`);
      assert.match(r.stderr, message);
      assert.equal(r.stderr.split('\n').length, 2, r.stderr);
      assert.equal(r.ran, false);
    } finally {
      await server.close();
    }
  }
});

test('-K bounds the prelude too: a server that never greets ends with 98', async () => {
  const server = await startScriptedServer(async (c) => {
    await c.line().catch(() => undefined);
  });
  try {
    const r = await throughTunnel('smtp', server.port, 'QUIT\r\n', ['-K', '300']);
    assert.equal(r.code, 98);
    assert.equal(r.stderr, 's6-tlsclient: fatal: smtp server: no STARTTLS answer within 300 ms\n');
    assert.equal(r.ran, false);
  } finally {
    await server.close();
  }
});

test('--starttls with an unknown protocol is a usage error (100) before connecting', async () => {
  const r = await runCommand(TLSCLIENT, ['--starttls=gopher', '127.0.0.1', '1', 'true'], { CAFILE: root.certPath });
  assert.equal(r.code, 100);
  assert.match(r.stderr, /^s6-tlsclient: usage: starttls must be one of smtp, lmtp, imap, pop3, ftp, xmpp, postgres, nntp: s6-tlsclient \[ .* host port \[ prog\.\.\. \]\n$/);
});

test('smtp without prog (the terminal after STARTTLS), and as root with TLS_UID/TLS_GID (engine in its own process)', async () => {
  const smtp = await startMailServer('smtp', leaf);
  try {
    // stdin stays open until the server has answered QUIT: an early EOF
    // would be a TLS close that the server may answer by hanging up.
    const child = spawn(TLSCLIENT, ['--starttls=smtp', '-k', 'mail.test', '127.0.0.1', String(smtp.port)], { env: cleanEnv({ CAFILE: root.certPath }) });
    let stdout = '';
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.stdout.on('data', (c: Buffer) => {
      stdout += c.toString();
      if (stdout.includes('221 ')) child.stdin.end();
    });
    child.stdin.write('EHLO client.test\r\nQUIT\r\n');
    const [code] = (await once(child, 'exit')) as [number];
    const terminal = { code, stdout, stderr };
    assert.equal(terminal.code, 0, terminal.stderr);
    assert.equal(terminal.stdout, '250-mail.test\r\n250-SIZE 33554432\r\n250-8BITMIME\r\n250-AUTH LOGIN PLAIN\r\n250 HELP\r\n221 Bye\r\n');
    assert.equal(process.getuid?.(), 0, 'the test suite runs as root (CI does)');
    const n = ++counter;
    const input = pki.path(`cmd${n}`);
    const output = pki.path(`out${n}`);
    writeFileSync(input, 'EHLO client.test\r\nQUIT\r\n');
    const dropped = await runCommand(
      TLSCLIENT,
      ['--starttls=smtp', '-k', 'mail.test', '127.0.0.1', String(smtp.port), 'sh', '-c', 'id -u >&2; cat "$1" >&7; exec cat <&6 > "$2"', 'sh', input, output],
      { CAFILE: root.certPath, TLS_UID: '65534', TLS_GID: '65534' },
    );
    assert.equal(dropped.code, 0, dropped.stderr);
    assert.equal(dropped.stderr, '0\n');
    assert.equal(readFileSync(output, 'utf8'), '250-mail.test\r\n250-SIZE 33554432\r\n250-8BITMIME\r\n250-AUTH LOGIN PLAIN\r\n250 HELP\r\n221 Bye\r\n');
  } finally {
    await smtp.close();
  }
});

test('the library: startTls() on a connected socket, then runTlsClient() over it, against aiosmtpd', async () => {
  const { connect } = await import('net');
  const { PassThrough } = await import('stream');
  const { startTls, runTlsClient } = await import('../src/index');
  const smtp = await startMailServer('smtp', leaf);
  try {
    const socket = connect({ host: '127.0.0.1', port: smtp.port });
    await new Promise((resolve) => socket.once('connect', resolve));
    const dialogue: string[] = [];
    await startTls(socket, 'smtp', { helloName: 'lib.test', serverName: 'mail.test' }, (line) => dialogue.push(line));
    assert.equal(dialogue[1], 'C: EHLO lib.test');
    assert.equal(dialogue.at(-1), 'S: 220 Ready to start TLS');
    const input = new PassThrough();
    const output = new PassThrough();
    let received = '';
    output.on('data', (c: Buffer) => (received += c.toString()));
    input.end('EHLO lib.test\r\nQUIT\r\n');
    const outcome = await runTlsClient({ network: { socket }, cleartext: { input, output }, trust: { cafile: root.certPath }, servername: 'mail.test' });
    assert.equal(outcome.exitCode, 0, outcome.reason);
    assert.equal(received, '250-mail.test\r\n250-SIZE 33554432\r\n250-8BITMIME\r\n250-AUTH LOGIN PLAIN\r\n250 HELP\r\n221 Bye\r\n');
    assert.equal(outcome.report?.protocol, 'TLSv1.3');
  } finally {
    await smtp.close();
  }
});
