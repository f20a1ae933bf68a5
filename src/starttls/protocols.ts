// Each protocol's way to STARTTLS, by its RFC: read the greeting, check the
// capability where the protocol has one, ask, check the answer. On success
// the server waits for our ClientHello; the client (prog, or the person at
// the terminal) then speaks from the protocol's post-STARTTLS state.

import { Dialogue, refused } from './dialogue';

export interface PreludeContext {
  /** the name to greet with (SMTP EHLO, LMTP LHLO) */
  helloName: string;
  /** the server's name (XMPP's to=) */
  serverName: string;
}

export type Prelude = (d: Dialogue, ctx: PreludeContext) => Promise<void>;

/** A reply of the SMTP family (SMTP, LMTP, FTP, NNTP single lines): "xyz-..." continues, "xyz ..." ends. */
async function numericReply(d: Dialogue): Promise<{ code: string; lines: string[] }> {
  const lines: string[] = [];
  for (let i = 0; i < 1000; i++) {
    const line = await d.line();
    lines.push(line);
    if (!/^[0-9]{3}[ -]?/.test(line)) throw refused(`${d.proto} server: unexpected reply: ${line}`);
    if (line[3] !== '-') return { code: line.slice(0, 3), lines };
    if (lines.length > 1 && line.slice(0, 3) !== lines[0].slice(0, 3)) throw refused(`${d.proto} server: unexpected reply: ${line}`);
  }
  throw refused(`${d.proto} server: reply too long`);
}

function expectCode(d: Dialogue, reply: { code: string; lines: string[] }, wanted: string, what: string): void {
  if (reply.code !== wanted) throw refused(`${d.proto} server refused ${what}: ${reply.lines.join(' / ')}`);
}

/** SMTP (RFC 3207) and LMTP (RFC 2033): greeting 220, EHLO/LHLO lists STARTTLS, STARTTLS answers 220. */
function smtpLike(hello: 'EHLO' | 'LHLO'): Prelude {
  return async (d, ctx) => {
    expectCode(d, await numericReply(d), '220', 'the session');
    d.send(`${hello} ${ctx.helloName}\r\n`);
    const ehlo = await numericReply(d);
    expectCode(d, ehlo, '250', hello);
    if (!ehlo.lines.slice(1).some((l) => /^STARTTLS$/i.test(l.slice(4).trim()))) {
      throw refused(`${d.proto} server does not offer STARTTLS: ${ehlo.lines.join(' / ')}`);
    }
    d.send('STARTTLS\r\n');
    expectCode(d, await numericReply(d), '220', 'STARTTLS');
  };
}

/** Lines up to a lone "." (POP3 CAPA, NNTP CAPABILITIES). */
async function dotList(d: Dialogue): Promise<string[]> {
  const lines: string[] = [];
  for (let i = 0; i < 1000; i++) {
    const line = await d.line();
    if (line === '.') return lines;
    lines.push(line);
  }
  throw refused(`${d.proto} server: capability list too long`);
}

/** IMAP (RFC 9051, RFC 3501): CAPABILITY lists STARTTLS, the tagged STARTTLS answers OK. */
const imap: Prelude = async (d) => {
  const greeting = await d.line();
  if (!/^\* OK\b/i.test(greeting)) throw refused(`imap server refused the session: ${greeting}`);
  let capabilities = /\[CAPABILITY ([^\]]*)\]/i.exec(greeting)?.[1];
  if (capabilities === undefined) {
    d.send('a1 CAPABILITY\r\n');
    const untagged: string[] = [];
    for (let i = 0; ; i++) {
      if (i > 1000) throw refused('imap server: reply too long');
      const line = await d.line();
      if (/^a1 /i.test(line)) {
        if (!/^a1 OK\b/i.test(line)) throw refused(`imap server refused CAPABILITY: ${line}`);
        break;
      }
      untagged.push(line);
    }
    capabilities = untagged.filter((l) => /^\* CAPABILITY /i.test(l)).join(' ');
  }
  if (!/(^| )STARTTLS( |$)/i.test(capabilities)) throw refused(`imap server does not offer STARTTLS: ${capabilities}`);
  d.send('a2 STARTTLS\r\n');
  for (let i = 0; ; i++) {
    if (i > 1000) throw refused('imap server: reply too long');
    const line = await d.line();
    if (/^a2 /i.test(line)) {
      if (!/^a2 OK\b/i.test(line)) throw refused(`imap server refused STARTTLS: ${line}`);
      return;
    }
    if (!line.startsWith('* ')) throw refused(`imap server: unexpected reply: ${line}`);
  }
};

/** POP3 (RFC 2595, RFC 2449): CAPA lists STLS, STLS answers +OK. */
const pop3: Prelude = async (d) => {
  const greeting = await d.line();
  if (!greeting.startsWith('+OK')) throw refused(`pop3 server refused the session: ${greeting}`);
  d.send('CAPA\r\n');
  const capa = await d.line();
  if (!capa.startsWith('+OK')) throw refused(`pop3 server does not offer STLS (CAPA: ${capa})`);
  const capabilities = await dotList(d);
  if (!capabilities.some((c) => /^STLS$/i.test(c.trim()))) throw refused(`pop3 server does not offer STLS: ${capabilities.join(' / ')}`);
  d.send('STLS\r\n');
  const answer = await d.line();
  if (!answer.startsWith('+OK')) throw refused(`pop3 server refused STLS: ${answer}`);
};

/** FTP (RFC 4217): AUTH TLS answers 234. */
const ftp: Prelude = async (d) => {
  expectCode(d, await numericReply(d), '220', 'the session');
  d.send('AUTH TLS\r\n');
  expectCode(d, await numericReply(d), '234', 'AUTH TLS');
};

/** NNTP (RFC 4642, RFC 3977): CAPABILITIES lists STARTTLS, STARTTLS answers 382. */
const nntp: Prelude = async (d) => {
  const greeting = await numericReply(d);
  if (greeting.code !== '200' && greeting.code !== '201') throw refused(`nntp server refused the session: ${greeting.lines.join(' / ')}`);
  d.send('CAPABILITIES\r\n');
  const capa = await numericReply(d);
  expectCode(d, capa, '101', 'CAPABILITIES');
  const capabilities = await dotList(d);
  if (!capabilities.some((c) => /^STARTTLS$/i.test(c.trim()))) throw refused(`nntp server does not offer STARTTLS: ${capabilities.join(' / ')}`);
  d.send('STARTTLS\r\n');
  expectCode(d, await numericReply(d), '382', 'STARTTLS');
};

const XMPP_TLS_NS = 'urn:ietf:params:xml:ns:xmpp-tls';

function xmlAttribute(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/'/g, '&apos;').replace(/</g, '&lt;');
}

/** XMPP (RFC 6120 section 5): the stream's features offer starttls, the server says proceed. */
const xmpp: Prelude = async (d, ctx) => {
  d.send(
    `<?xml version='1.0'?><stream:stream to='${xmlAttribute(ctx.serverName)}' version='1.0' xml:lang='en' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>`,
  );
  const features = await d.until('</stream:features>');
  if (/<stream:error/.test(features)) throw refused(`xmpp server refused the stream: ${features}`);
  if (!new RegExp(`<starttls[^>]*xmlns=['"]${XMPP_TLS_NS}['"]`).test(features)) throw refused(`xmpp server does not offer starttls: ${features}`);
  d.send(`<starttls xmlns='${XMPP_TLS_NS}'/>`);
  const answer = await d.until('>');
  if (!/^\s*<proceed\b/.test(answer)) {
    throw refused(`xmpp server refused starttls: ${answer}`);
  }
  // <proceed xmlns='...'/> ends with "/>"; a non-empty element would not be a proceed.
  if (!answer.endsWith('/>')) throw refused(`xmpp server: unexpected answer to starttls: ${answer}`);
};

/** PostgreSQL: the SSLRequest message (length 8, code 80877103), answered by one byte, S or N. */
const postgres: Prelude = async (d) => {
  const request = Buffer.alloc(8);
  request.writeUInt32BE(8, 0);
  request.writeUInt32BE(80877103, 4);
  d.send(request, 'SSLRequest');
  const answer = (await d.bytes(1)).toString('latin1');
  if (answer === 'S') return;
  if (answer === 'N') throw refused('postgres server refused SSL (answered N to SSLRequest)');
  throw refused(`postgres server: unexpected answer to SSLRequest: ${JSON.stringify(answer)}`);
};

export const PRELUDES: Readonly<Record<string, Prelude>> = {
  smtp: smtpLike('EHLO'),
  lmtp: smtpLike('LHLO'),
  imap,
  pop3,
  ftp,
  xmpp,
  postgres,
  nntp,
};
