// Each protocol's way to STARTTLS, by its RFC: read the greeting, check the
// capability where the protocol has one, ask, check the answer. On success
// the server waits for our ClientHello; the client (prog, or the person at
// the terminal) then speaks from the protocol's post-STARTTLS state.
// Every refusal quotes the server's words (made safe by `quote`).

import { Dialogue, MAX_LINE, quote, refused } from './dialogue';

export interface PreludeContext {
  /** the name to greet with (SMTP EHLO, LMTP LHLO); by default our FQDN or our address literal */
  helloName?: string;
  /** the server's name (XMPP's to=) */
  serverName: string;
}

export type Prelude = (d: Dialogue, ctx: Required<PreludeContext>) => Promise<void>;

/** Most lines one reply (or one capability list) may take. */
const MAX_REPLY_LINES = 1000;

export interface NumericReply {
  code: string;
  lines: string[];
}

/**
 * How a protocol spreads one numeric reply over lines:
 * - smtp (RFC 5321 4.2.1, also LMTP): every line starts with the same code,
 *   "xyz-" on all lines but the last, "xyz " (or "xyz" alone) on the last;
 * - ftp (RFC 959 4.2): "xyz-" opens a multi-line reply, which ends at the
 *   first line starting "xyz " with the same code; the lines between may be
 *   any text;
 * - nntp (RFC 3977 3.2): a status is one line, "xyz" then a space or nothing.
 */
export type ReplyStyle = 'smtp' | 'ftp' | 'nntp';

const CODE = /^([0-9]{3})([ -]|$)/;

export async function numericReply(d: Dialogue, style: ReplyStyle): Promise<NumericReply> {
  const first = await d.line();
  const head = CODE.exec(first);
  if (!head || (style === 'nntp' && head[2] === '-')) throw d.refusal(`${d.proto} server: unexpected reply`, first);
  const code = head[1];
  const lines = [first];
  if (head[2] !== '-') return { code, lines };
  while (lines.length < MAX_REPLY_LINES) {
    const line = await d.line();
    lines.push(line);
    const next = CODE.exec(line);
    if (style === 'ftp') {
      if (next && next[1] === code && next[2] !== '-') return { code, lines };
      continue;
    }
    if (!next) throw d.refusal(`${d.proto} server: unexpected line inside a ${code} reply`, line);
    if (next[1] !== code) throw d.refusal(`${d.proto} server: a ${code} reply went on with another code`, line);
    if (next[2] !== '-') return { code, lines };
  }
  throw refused(`${d.proto} server: reply longer than ${MAX_REPLY_LINES} lines`);
}

function expectCode(d: Dialogue, reply: NumericReply, wanted: string, what: string): void {
  if (reply.code !== wanted) throw d.refusal(`${d.proto} server refused ${what}`, reply.lines.join(' / '));
}

/** SMTP (RFC 3207) and LMTP (RFC 2033): greeting 220, EHLO/LHLO lists STARTTLS, STARTTLS answers 220. */
function smtpLike(hello: 'EHLO' | 'LHLO'): Prelude {
  return async (d, ctx) => {
    expectCode(d, await numericReply(d, 'smtp'), '220', 'the session');
    d.send(`${hello} ${ctx.helloName}\r\n`);
    const ehlo = await numericReply(d, 'smtp');
    expectCode(d, ehlo, '250', hello);
    if (!ehlo.lines.slice(1).some((l) => /^STARTTLS$/i.test(l.slice(4).trim()))) {
      throw d.refusal(`${d.proto} server does not offer STARTTLS`, ehlo.lines.join(' / '));
    }
    d.send('STARTTLS\r\n');
    expectCode(d, await numericReply(d, 'smtp'), '220', 'STARTTLS');
  };
}

/**
 * The lines of a multi-line block up to its lone "." (POP3 CAPA, RFC 1939
 * 3; NNTP CAPABILITIES, RFC 3977 3.1.1), with the leading "." of a
 * dot-stuffed line taken off.
 */
export async function dotList(d: Dialogue): Promise<string[]> {
  const lines: string[] = [];
  while (lines.length < MAX_REPLY_LINES) {
    const line = await d.line();
    if (line === '.') return lines;
    lines.push(line.startsWith('.') ? line.slice(1) : line);
  }
  throw refused(`${d.proto} server: list longer than ${MAX_REPLY_LINES} lines`);
}

/**
 * One IMAP response (RFC 9051 4.3): a line, and where it announces a
 * literal ("{n}" or "{n+}" at its end) the n bytes and the rest of the
 * response after them, up to the prelude's bounds.
 */
export async function imapResponse(d: Dialogue): Promise<string> {
  let response = await d.line();
  for (let literals = 0; ; literals++) {
    const literal = /\{([0-9]{1,10})\+?\}$/.exec(response);
    if (!literal) return response;
    const size = Number(literal[1]);
    if (size > MAX_LINE || literals >= MAX_REPLY_LINES) throw refused(`imap server: literal of ${size} bytes before TLS`);
    response += (await d.bytes(size)).toString('utf8') + (await d.line());
  }
}

/**
 * Sends an IMAP command and reads up to its tagged answer: the untagged
 * responses before it, and the tagged line. A BYE ends the session (RFC
 * 9051 7.1.5) and a continuation request or a line of neither kind has no
 * place here: each is refused with its words.
 */
export async function imapCommand(d: Dialogue, tag: string, command: string): Promise<{ untagged: string[]; tagged: string }> {
  d.send(`${tag} ${command}\r\n`);
  const untagged: string[] = [];
  while (untagged.length < MAX_REPLY_LINES) {
    const response = await imapResponse(d);
    if (response.toLowerCase().startsWith(`${tag.toLowerCase()} `)) return { untagged, tagged: response };
    if (/^\* BYE\b/i.test(response)) throw d.refusal(`imap server ended the session`, response);
    if (!response.startsWith('* ')) throw d.refusal(`imap server: unexpected reply to ${command}`, response);
    untagged.push(response);
  }
  throw refused(`imap server: reply longer than ${MAX_REPLY_LINES} lines`);
}

/** IMAP (RFC 9051, RFC 3501): CAPABILITY lists STARTTLS, the tagged STARTTLS answers OK. */
const imap: Prelude = async (d) => {
  const greeting = await imapResponse(d);
  if (/^\* PREAUTH\b/i.test(greeting)) throw d.refusal('imap server: the session is already authenticated (PREAUTH), so STARTTLS is not allowed', greeting);
  if (!/^\* OK\b/i.test(greeting)) throw d.refusal('imap server refused the session', greeting);
  let capabilities = /\[CAPABILITY ([^\]]*)\]/i.exec(greeting)?.[1];
  if (capabilities === undefined) {
    const answer = await imapCommand(d, 'a1', 'CAPABILITY');
    if (!/^a1 OK\b/i.test(answer.tagged)) throw d.refusal('imap server refused CAPABILITY', answer.tagged);
    capabilities = answer.untagged.filter((l) => /^\* CAPABILITY /i.test(l)).map((l) => l.slice('* CAPABILITY '.length)).join(' ');
  }
  if (!/(^| )STARTTLS( |$)/i.test(capabilities)) throw d.refusal('imap server does not offer STARTTLS', capabilities);
  const answer = await imapCommand(d, 'a2', 'STARTTLS');
  if (!/^a2 OK\b/i.test(answer.tagged)) throw d.refusal('imap server refused STARTTLS', answer.tagged);
};

/** POP3 (RFC 2595, RFC 2449): CAPA lists STLS, STLS answers +OK. Every status is one line. */
const pop3: Prelude = async (d) => {
  const greeting = await d.line();
  if (!greeting.startsWith('+OK')) throw d.refusal('pop3 server refused the session', greeting);
  d.send('CAPA\r\n');
  const capa = await d.line();
  if (!capa.startsWith('+OK')) throw refused(`pop3 server does not offer STLS (CAPA: ${quote(capa)})`);
  const capabilities = await dotList(d);
  if (!capabilities.some((c) => /^STLS$/i.test(c.trim()))) throw d.refusal('pop3 server does not offer STLS', capabilities.join(' / '));
  d.send('STLS\r\n');
  const answer = await d.line();
  if (!answer.startsWith('+OK')) throw d.refusal('pop3 server refused STLS', answer);
};

/** FTP (RFC 4217): greeting 220 (after any 120 "wait"), AUTH TLS answers 234. */
const ftp: Prelude = async (d) => {
  let greeting = await numericReply(d, 'ftp');
  for (let waits = 0; greeting.code === '120' && waits < MAX_REPLY_LINES; waits++) greeting = await numericReply(d, 'ftp');
  expectCode(d, greeting, '220', 'the session');
  d.send('AUTH TLS\r\n');
  expectCode(d, await numericReply(d, 'ftp'), '234', 'AUTH TLS');
};

/** NNTP (RFC 4642, RFC 3977): CAPABILITIES lists STARTTLS, STARTTLS answers 382. */
const nntp: Prelude = async (d) => {
  const greeting = await numericReply(d, 'nntp');
  if (greeting.code !== '200' && greeting.code !== '201') throw d.refusal('nntp server refused the session', greeting.lines.join(' / '));
  d.send('CAPABILITIES\r\n');
  const capa = await numericReply(d, 'nntp');
  expectCode(d, capa, '101', 'CAPABILITIES');
  const capabilities = await dotList(d);
  if (!capabilities.some((c) => /^STARTTLS$/i.test(c.trim()))) throw d.refusal('nntp server does not offer STARTTLS', capabilities.join(' / '));
  d.send('STARTTLS\r\n');
  expectCode(d, await numericReply(d, 'nntp'), '382', 'STARTTLS');
};

const XMPP_TLS_NS = 'urn:ietf:params:xml:ns:xmpp-tls';

function xmlAttribute(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/'/g, '&apos;').replace(/</g, '&lt;');
}

function xmlText(text: string): string {
  const entities: Record<string, string> = { lt: '<', gt: '>', amp: '&', apos: "'", quot: '"' };
  return text.replace(/&(lt|gt|amp|apos|quot);/g, (_, name: string) => entities[name]);
}

/** A stream error (RFC 6120 4.9) in words: its condition, and its text if any. */
export function streamErrorWords(xml: string): string {
  const error = /<stream:error\b[^>]*>([\s\S]*?)(<\/stream:error>|$)/.exec(xml)?.[1] ?? '';
  const condition = /<([A-Za-z][\w.-]*)\b/.exec(error.replace(/<text\b[\s\S]*?(<\/text>|\/>)/g, ''))?.[1];
  const text = /<text\b[^>]*>([\s\S]*?)<\/text>/.exec(error)?.[1];
  if (!condition) return xml;
  return text ? `${condition} (${xmlText(text)})` : condition;
}

/**
 * XMPP (RFC 6120 section 5): the stream's features offer starttls, the
 * server says proceed. A stream error (or the end of the stream) in place
 * of either is refused with its condition and text.
 */
const xmpp: Prelude = async (d, ctx) => {
  d.send(
    `<?xml version='1.0'?><stream:stream to='${xmlAttribute(ctx.serverName)}' version='1.0' xml:lang='en' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>`,
  );
  const features = await d.until('</stream:features>', '<stream:features/>', '</stream:error>', '</stream:stream>');
  if (/<stream:error\b/.test(features)) throw d.refusal('xmpp server refused the stream', streamErrorWords(features));
  if (!/<stream:features\b/.test(features)) throw d.refusal('xmpp server ended the stream before its features', features);
  if (!new RegExp(`<starttls[^>]*xmlns=['"]${XMPP_TLS_NS}['"]`).test(features)) throw d.refusal('xmpp server does not offer starttls', features);
  d.send(`<starttls xmlns='${XMPP_TLS_NS}'/>`);
  let answer = await d.until('>');
  if (/^\s*<stream:error\b/.test(answer)) {
    answer += await d.until('</stream:error>');
    throw d.refusal('xmpp server refused starttls', streamErrorWords(answer));
  }
  if (!/^\s*<proceed\b/.test(answer)) throw d.refusal('xmpp server refused starttls', answer);
  // <proceed xmlns='...'/> ends with "/>"; a non-empty element would not be a proceed.
  if (!answer.endsWith('/>')) throw d.refusal('xmpp server: unexpected answer to starttls', answer);
};

/** An ErrorResponse's fields (severity, SQLSTATE, message) in words. */
export function postgresErrorWords(body: Buffer): string {
  const fields: Record<string, string> = {};
  for (let at = 0; at < body.length && body[at] !== 0; ) {
    const end = body.indexOf(0, at + 1);
    const stop = end < 0 ? body.length : end;
    fields[String.fromCharCode(body[at])] = body.subarray(at + 1, stop).toString('utf8');
    at = stop + 1;
  }
  const severity = fields.V ?? fields.S;
  const words = [severity, fields.C && `(${fields.C})`].filter(Boolean).join(' ');
  return fields.M === undefined ? body.toString('utf8') : `${words ? `${words}: ` : ''}${fields.M}`;
}

/**
 * PostgreSQL (protocol 3, "SSL Session Encryption"): the SSLRequest
 * message, answered by one byte, S or N; a server too old for it (or
 * refusing the connection) answers with an ErrorResponse instead.
 */
const postgres: Prelude = async (d) => {
  const request = Buffer.alloc(8);
  request.writeUInt32BE(8, 0);
  request.writeUInt32BE(80877103, 4);
  d.send(request, 'SSLRequest');
  const answer = (await d.bytes(1)).toString('latin1');
  if (answer === 'S') return d.said('S');
  if (answer === 'N') {
    d.said('N');
    throw refused('postgres server refused SSL (answered N to SSLRequest)');
  }
  if (answer === 'E') {
    const length = (await d.bytes(4)).readUInt32BE(0);
    if (length < 4 || length > MAX_LINE) throw refused(`postgres server: an error of ${length} bytes in answer to SSLRequest`);
    const words = postgresErrorWords(await d.bytes(length - 4));
    d.said(`ErrorResponse: ${words}`);
    throw d.refusal('postgres server refused SSLRequest', words);
  }
  d.said(answer);
  throw d.refusal('postgres server: unexpected answer to SSLRequest', answer);
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
