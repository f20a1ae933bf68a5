// The STARTTLS reply readers against hostile and odd servers, in process:
// a loopback server sends its whole side of the prelude at once (or a
// broken part of it) and startTls() either reaches the go-ahead or fails
// with the server's words, made safe. The end-to-end cases with real
// servers are in starttls.test.ts.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, connect, Socket } from 'net';
import { once } from 'events';
import { startTls } from '../src/client/starttls';
import { MAX_QUOTE, quote } from '../src/client/starttls/dialogue';
import { addressLiteral, defaultHelloName, hostsCanonicalName } from '../src/client/starttls/hello';

interface Run {
  error?: string;
  log: string[];
  /** what the client sent */
  sent: string;
}

/** startTls(proto) against a server that sends `side` on connect (then ends if `close`). */
async function against(proto: string, side: string | Buffer, close = false, helloName: string | undefined = 'client.test'): Promise<Run> {
  let sent = '';
  let heardAll: () => void = () => undefined;
  const allSent = new Promise<void>((resolve) => (heardAll = resolve));
  const server = createServer((s: Socket) => {
    s.on('data', (c: Buffer) => (sent += c.toString('latin1')));
    s.on('error', () => undefined);
    s.on('close', heardAll);
    s.write(side);
    if (close) s.end();
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as { port: number }).port;
  const socket = connect({ host: '127.0.0.1', port });
  socket.on('error', () => undefined);
  await once(socket, 'connect');
  const log: string[] = [];
  let error: string | undefined;
  try {
    // generous: only a reader that waits for what never comes reaches it
    await startTls(socket, proto, { helloName, serverName: 'mail.test' }, (l) => log.push(l), 120_000);
  } catch (err) {
    error = (err as Error).message;
  }
  // everything we sent has reached the server once it sees our end
  socket.end();
  socket.resume();
  await allSent;
  socket.destroy();
  server.close();
  return { error, log, sent };
}

test('ftp: a multi-line greeting whose inner lines carry no code, or other codes (RFC 959 4.2), then 234', async () => {
  const r = await against('ftp', '220-Welcome to the test server.\r\n Authorized use only.\r\n230 not the end\r\n220-still not\r\n220 ProFTPD ready\r\n234 AUTH TLS ok\r\n');
  assert.equal(r.error, undefined);
  assert.equal(r.sent, 'AUTH TLS\r\n');
  assert.deepEqual(r.log, ['S: 220-Welcome to the test server.', 'S:  Authorized use only.', 'S: 230 not the end', 'S: 220-still not', 'S: 220 ProFTPD ready', 'C: AUTH TLS', 'S: 234 AUTH TLS ok']);
});

test('ftp: a 120 "wait" before the 220 greeting; a reply that never ends is refused when the server closes, with its last words', async () => {
  assert.equal((await against('ftp', '120 in a minute\r\n220 ready\r\n234 go\r\n')).error, undefined);
  const r = await against('ftp', '220-hello\r\n more\r\n', true);
  assert.equal(r.error, 'ftp server closed the connection before TLS; it said last: more');
});

test('smtp: a line without a code, a code that changes, a first line that is no reply: refused with the line (RFC 5321 4.2.1)', async () => {
  assert.equal((await against('smtp', '220-mail.test\r\n Authorized use only.\r\n220 ready\r\n')).error, 'smtp server: unexpected line inside a 220 reply: Authorized use only.');
  assert.equal((await against('smtp', '220 hi\r\n250-mail.test\r\n251 STARTTLS\r\n')).error, 'smtp server: a 250 reply went on with another code: 251 STARTTLS');
  assert.equal((await against('smtp', '2200 hi\r\n')).error, 'smtp server: unexpected reply: 2200 hi');
  assert.equal((await against('lmtp', '220 hi\r\n250STARTTLS\r\n')).error, 'lmtp server: unexpected reply: 250STARTTLS');
  // a last line with the code alone is a whole reply
  const r = await against('smtp', '220\r\n250-mail.test\r\n250-STARTTLS\r\n250\r\n220\r\n');
  assert.equal(r.error, undefined);
  assert.equal(r.sent, 'EHLO client.test\r\nSTARTTLS\r\n');
});

test('hostile words: NULs and escape sequences are escaped, long words cut, an overlong line refused', async () => {
  const r = await against('smtp', '554 \x00\x1b[31mgo away\x07\x9b\r\n');
  assert.equal(r.error, 'smtp server refused the session: 554 \\x00\\x1b[31mgo away\\x07\\x9b');
  assert.equal(r.log[0], 'S: 554 \\x00\\x1b[31mgo away\\x07\\x9b');
  const long = await against('smtp', `554 ${'A'.repeat(5000)}\r\n`);
  assert.ok(long.error!.length < MAX_QUOTE + 100, long.error);
  assert.match(long.error!, /^smtp server refused the session: 554 A+\.\.\. \(4704 more characters\)$/);
  const endless = await against('smtp', Buffer.alloc(9000, 0x41));
  assert.equal(endless.error, 'server sent a line longer than 8192 bytes before TLS');
  assert.equal(quote(Buffer.from([0x41, 0xff, 0x0d, 0x0a])), 'A\ufffd\\r\\n');
});

test('a server that ends before TLS: its last words quoted, and an S: line for what it left unfinished', async () => {
  const r = await against('smtp', '220 mail.test\r\n250-mail.test\r\n250-STA', true);
  assert.equal(r.error, 'smtp server closed the connection before TLS; it said last: 250-STA');
  assert.equal(r.log.at(-1), 'S: 250-STA');
  assert.equal((await against('pop3', '+OK ready\r\n', true)).error, 'pop3 server closed the connection before TLS; it said last: +OK ready');
  assert.equal((await against('imap', '', true)).error, 'imap server closed the connection before TLS');
});

test('nntp: a status is one line (RFC 3977 3.2), the capability list dot-stuffed', async () => {
  assert.equal((await against('nntp', '200-hello\r\n')).error, 'nntp server: unexpected reply: 200-hello');
  const r = await against('nntp', '200 ready\r\n101 caps\r\nVERSION 2\r\n..STARTTLS\r\n.\r\n382 go\r\n');
  assert.equal(r.error, 'nntp server does not offer STARTTLS: VERSION 2 / .STARTTLS');
  assert.equal((await against('nntp', '201 ready\r\n101 caps\r\nVERSION 2\r\nSTARTTLS\r\n.\r\n382 go\r\n')).error, undefined);
});

test('imap: untagged responses with a literal before the tagged one; PREAUTH and BYE refused with their words', async () => {
  const literal = 'a1 OK no\r\n';
  const r = await against('imap', `* OK ready\r\n* CAPABILITY IMAP4rev1 STARTTLS\r\n* XNOTE {${literal.length}}\r\n${literal} end\r\na1 OK done\r\n* OK untagged first\r\na2 OK begin TLS\r\n`);
  assert.equal(r.error, undefined);
  assert.equal(r.sent, 'a1 CAPABILITY\r\na2 STARTTLS\r\n');
  assert.equal((await against('imap', '* PREAUTH logged in as you\r\n')).error, 'imap server: the session is already authenticated (PREAUTH), so STARTTLS is not allowed: * PREAUTH logged in as you');
  assert.equal((await against('imap', '* BYE too many connections\r\n')).error, 'imap server refused the session: * BYE too many connections');
  assert.equal((await against('imap', '* OK ready\r\n* BYE shutting down\r\n')).error, 'imap server ended the session: * BYE shutting down');
  assert.equal((await against('imap', '* OK ready\r\n+ go on\r\n')).error, 'imap server: unexpected reply to CAPABILITY: + go on');
  assert.equal((await against('imap', '* OK ready\r\n* X {99999}\r\n')).error, 'imap server: literal of 99999 bytes before TLS');
});

test('xmpp: a stream error before the features or in answer to starttls, in words, with an S: line', async () => {
  const header = "<?xml version='1.0'?><stream:stream from='mail.test' id='1' version='1.0' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>";
  const error = "<stream:error><host-gone xmlns='urn:ietf:params:xml:ns:xmpp-streams'/><text xmlns='urn:ietf:params:xml:ns:xmpp-streams' xml:lang='en'>gone &amp; away</text></stream:error></stream:stream>";
  const r = await against('xmpp', header + error, true);
  assert.equal(r.error, 'xmpp server refused the stream: host-gone (gone & away)');
  assert.equal(r.log.at(-1), `S: ${header}${error.replace('</stream:stream>', '')}`);
  const features = "<stream:features><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/></stream:features>";
  const late = await against('xmpp', `${header}${features}<stream:error><policy-violation xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error>`);
  assert.equal(late.error, 'xmpp server refused starttls: policy-violation');
  assert.equal((await against('xmpp', `${header}</stream:stream>`)).error, `xmpp server ended the stream before its features: ${header}</stream:stream>`);
});

test('postgres: N and an ErrorResponse, each shown as an S: line and quoted', async () => {
  const n = await against('postgres', 'N');
  assert.equal(n.error, 'postgres server refused SSL (answered N to SSLRequest)');
  assert.deepEqual(n.log, ['C: SSLRequest', 'S: N']);
  const fields = Buffer.from('SFATAL\0VFATAL\0C28000\0Mno pg_hba.conf entry for host "127.0.0.1"\0\0');
  const head = Buffer.alloc(5);
  head.write('E');
  head.writeUInt32BE(fields.length + 4, 1);
  const e = await against('postgres', Buffer.concat([head, fields]), true);
  assert.equal(e.error, 'postgres server refused SSLRequest: FATAL (28000): no pg_hba.conf entry for host "127.0.0.1"');
  assert.equal(e.log.at(-1), 'S: ErrorResponse: FATAL (28000): no pg_hba.conf entry for host "127.0.0.1"');
  const huge = Buffer.from([0x45, 0x7f, 0, 0, 0]);
  assert.equal((await against('postgres', huge)).error, 'postgres server: an error of 2130706432 bytes in answer to SSLRequest');
});

test('the EHLO name: our FQDN, the canonical name /etc/hosts gives, else our address literal (RFC 5321 4.1.4)', async () => {
  const socket = { localAddress: '127.0.0.1' } as Socket;
  assert.equal(defaultHelloName(socket, 'vm.example.org', () => ''), 'vm.example.org');
  assert.equal(defaultHelloName(socket, 'vm', () => '127.0.1.1 vm.example.org vm\n'), 'vm.example.org');
  assert.equal(defaultHelloName(socket, 'vm', () => '127.0.0.1 localhost\n127.0.0.1 vm # vm.example.org\n'), '[127.0.0.1]');
  assert.equal(defaultHelloName({ localAddress: '::1' } as Socket, 'vm', () => ''), '[IPv6:::1]');
  assert.equal(addressLiteral('::ffff:192.0.2.7'), '[192.0.2.7]');
  assert.equal(addressLiteral('fe80::1%eth0'), '[IPv6:fe80::1]');
  assert.equal(hostsCanonicalName('VM', '10.0.0.1 other.example\n10.0.0.2 vm.example.net vm\n'), 'vm.example.net');
  // what goes out without -l: never a bare name
  const r = await against('smtp', '220 hi\r\n554 no\r\n', false, undefined);
  assert.equal(r.error, 'smtp server refused EHLO: 554 no');
  assert.match(r.sent, /^EHLO (\[127\.0\.0\.1\]|[^.\s]+\.[^\s]+)\r\n$/);
});
