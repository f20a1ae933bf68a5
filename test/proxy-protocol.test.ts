// s6-tlsserver -L: the PROXY protocol header (src/server/proxy-protocol.ts)
// over real sockets on 127.0.0.1, from raw bytes a client writes and from the
// real haproxy (send-proxy and send-proxy-v2). What matters most: the header
// is all that is taken, and the next reader of the socket (TLS) sees the
// bytes after it first, whatever the chunks.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'events';
import { randomBytes } from 'crypto';
import { Duplex } from 'stream';
import { connect, createServer, Server, Socket } from 'net';
import { TLSSocket, connect as tlsConnect, createSecureContext } from 'tls';
import { FatalError } from '../src/base/errors';
import {
  ProxyHeader,
  V1_MAX_LENGTH,
  V2_MAX_LENGTH,
  crc32c,
  parseProxyHeader,
  proxyEnvironment,
  proxyTlsEnvironment,
  readProxyHeader,
} from '../src/server/proxy-protocol';
import { freePort } from './helpers/servers';
import { startHaproxy } from './helpers/haproxy';
import { serverPki } from './helpers/pki';

// Helpers -------------------------------------------------------------------

const V2_MAGIC = Buffer.from('\r\n\r\n\0\r\nQUIT\n', 'latin1');

function v2(verCmd: number, fam: number, block: Buffer): Buffer {
  const len = Buffer.alloc(2);
  len.writeUInt16BE(block.length);
  return Buffer.concat([V2_MAGIC, Buffer.from([verCmd, fam]), len, block]);
}

function tlv(type: number, value: Buffer | string): Buffer {
  const v = typeof value === 'string' ? Buffer.from(value) : value;
  const head = Buffer.from([type, 0, 0]);
  head.writeUInt16BE(v.length, 1);
  return Buffer.concat([head, v]);
}

function inet4Block(src: number[], dst: number[], sport: number, dport: number): Buffer {
  const b = Buffer.alloc(12);
  Buffer.from(src).copy(b, 0);
  Buffer.from(dst).copy(b, 4);
  b.writeUInt16BE(sport, 8);
  b.writeUInt16BE(dport, 10);
  return b;
}

const servers: Server[] = [];
after(() => {
  for (const s of servers) s.close();
});

/** A server that hands out its sockets unread, as s6-tlsserver gets them. */
async function pausedServer(): Promise<{ port: number; next(): Promise<Socket> }> {
  const waiting: Socket[] = [];
  const takers: ((s: Socket) => void)[] = [];
  const server = createServer({ pauseOnConnect: true }, (s) => {
    const taker = takers.shift();
    if (taker) taker(s);
    else waiting.push(s);
  });
  servers.push(server);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    port: (server.address() as { port: number }).port,
    next: () => {
      const s = waiting.shift();
      return s ? Promise.resolve(s) : new Promise((resolve) => takers.push(resolve));
    },
  };
}

/** Everything the next reader gets, through .on('data') and resume() as a TLS layer would, up to the end. */
function restOf(socket: Socket): Promise<Buffer> {
  const parts: Buffer[] = [];
  socket.on('data', (c: Buffer) => parts.push(c));
  socket.resume();
  return new Promise((resolve, reject) => {
    socket.on('end', () => resolve(Buffer.concat(parts)));
    socket.on('error', reject);
  });
}

function write(s: Socket, data: Buffer | string): Promise<void> {
  return new Promise((resolve, reject) => s.write(data, (err) => (err ? reject(err) : resolve())));
}

const EVENTS = ['data', 'end', 'close', 'error', 'readable'];

/** How many listeners of each event a socket has (net.Socket keeps some of its own). */
function listeners(socket: Socket): number[] {
  return EVENTS.map((e) => socket.listenerCount(e));
}

/** The state readProxyHeader must leave behind: none of its listeners, paused as pauseOnConnect left it. */
function assertLeftClean(socket: Socket, before: number[], paused = true): void {
  assert.deepEqual(listeners(socket), before, `listeners of ${EVENTS.join(', ')}: some were left`);
  if (paused) assert.equal(socket.readableFlowing, false);
}

/**
 * A client writes `pieces` one write at a time (each written before the next
 * starts), then ends; the server reads the header only once every piece has
 * been written when `late` (all of it then waits in the kernel: one read).
 */
async function exchange(pieces: (Buffer | string)[], opts: { timeoutMs?: number; late?: boolean; end?: boolean } = {}): Promise<{ header: ProxyHeader; rest: Buffer; bytesRead: number }> {
  const { port, next } = await pausedServer();
  const client = connect({ port, host: '127.0.0.1' });
  client.setNoDelay(true);
  client.on('error', () => undefined);
  const socket = await next();
  const sent = (async () => {
    for (const p of pieces) {
      await write(client, p);
      // Let each piece go out on its own.
      if (!opts.late) await new Promise((r) => setImmediate(r));
    }
    if (opts.end !== false) client.end();
  })();
  sent.catch(() => undefined); // awaited below; a failed test destroys the client under it
  if (opts.late) await sent;
  try {
    const before = listeners(socket);
    const header = await readProxyHeader(socket, { timeoutMs: opts.timeoutMs ?? 60_000 });
    const bytesRead = socket.bytesRead;
    assertLeftClean(socket, before);
    const rest = await restOf(socket);
    await sent;
    return { header, rest, bytesRead };
  } finally {
    client.destroy();
    socket.destroy();
  }
}

/** The error readProxyHeader rejects with for these pieces (the client never ends unless told). */
async function failure(pieces: (Buffer | string)[], opts: { timeoutMs?: number; end?: boolean; reset?: boolean } = {}): Promise<FatalError> {
  const { port, next } = await pausedServer();
  const client = connect({ port, host: '127.0.0.1' });
  client.on('error', () => undefined);
  const socket = await next();
  for (const p of pieces) await write(client, p);
  if (opts.end) client.end();
  if (opts.reset) client.resetAndDestroy();
  const before = listeners(socket);
  try {
    await readProxyHeader(socket, { timeoutMs: opts.timeoutMs ?? 60_000 });
  } catch (err) {
    assert.ok(err instanceof FatalError, String(err));
    assert.ok(!/[\r\n]/.test(err.message), 'one line');
    assertLeftClean(socket, before, false);
    assert.ok(socket.destroyed, 'a bad header aborts the connection');
    return err;
  } finally {
    client.destroy();
  }
  assert.fail('readProxyHeader resolved');
}

// v1 -------------------------------------------------------------------------

test('v1 TCP4: the addresses, the variables, and the payload of the same write after it', async () => {
  const line = 'PROXY TCP4 192.0.2.1 198.51.100.22 56324 443\r\n';
  const { header, rest, bytesRead } = await exchange([line + 'hello, TLS'], { late: true });
  assert.deepEqual(header, { version: 1, command: 'proxy', length: line.length, addresses: { remoteIp: '192.0.2.1', remotePort: 56324, localIp: '198.51.100.22', localPort: 443 } });
  assert.ok(bytesRead > line.length, 'the payload came in the read that ended the header');
  assert.equal(rest.toString(), 'hello, TLS');
  assert.deepEqual(proxyEnvironment(header), { PROTO: 'TCP', TCPREMOTEIP: '192.0.2.1', TCPREMOTEPORT: '56324', TCPLOCALIP: '198.51.100.22', TCPLOCALPORT: '443' });
  assert.deepEqual(proxyTlsEnvironment(header), { SSL_TLS_SNI_SERVERNAME: undefined, SSL_PROTOCOL: undefined, SSL_PEER_CERT_CN: undefined, SSL_CIPHER: undefined });
});

test('v1 TCP6: any valid spelling, written back as skalibs writes it', async () => {
  const line = 'PROXY TCP6 2001:DB8:0:0:1:0:0:1 2001:0db8:0000:0000:0000:0000:0000:0002 0 65535\r\n';
  const { header, rest } = await exchange([line, 'after']);
  assert.deepEqual(header.addresses, { remoteIp: '2001:db8::1:0:0:1', remotePort: 0, localIp: '2001:db8::2', localPort: 65535 });
  assert.equal(rest.toString(), 'after');
  const cases: [string, string][] = [
    ['::1', '::1'],
    ['::', '::'],
    ['1::', '1::'],
    ['::ffff:192.0.2.1', '::ffff:c000:201'],
    ['1:0:0:2:0:0:0:3', '1:0:0:2::3'],
    ['1:0:2:0:3:0:4:0', '1:0:2:0:3:0:4:0'],
    ['fe80::1:2:3:4:5:6', 'fe80:0:1:2:3:4:5:6'],
    ['1:0:0:2:0:0:3:4', '1::2:0:0:3:4'],
  ];
  for (const [given, written] of cases) {
    const h = parseProxyHeader(Buffer.from(`PROXY TCP6 ${given} ::1 1 2\r\n`));
    assert.equal(h?.addresses?.remoteIp, written, given);
  }
});

test('v1 UNKNOWN, short and long: the real endpoints stay, no variable changes', async () => {
  for (const line of ['PROXY UNKNOWN\r\n', 'PROXY UNKNOWN ffff:f::f ffff:f::f 65535 65535\r\n', 'PROXY UNKNOWN whatever\r\n']) {
    const { header, rest } = await exchange([line + 'x']);
    assert.deepEqual(header, { version: 1, command: 'proxy', length: line.length });
    assert.deepEqual(proxyEnvironment(header), {});
    assert.equal(rest.toString(), 'x');
  }
});

test('v1 and v2 headers split into 1-byte writes: the same header, the payload whole', async () => {
  const line = 'PROXY TCP4 10.1.2.3 10.4.5.6 1234 5678\r\n';
  const payload = randomBytes(3000);
  const one = await exchange([...Buffer.from(line)].map((b) => Buffer.from([b])).concat([payload]));
  assert.equal(one.header.addresses?.remoteIp, '10.1.2.3');
  assert.ok(one.rest.equals(payload));
  const h2 = v2(0x21, 0x11, Buffer.concat([inet4Block([10, 9, 8, 7], [10, 6, 5, 4], 4321, 443), tlv(0x04, Buffer.alloc(7))]));
  const two = await exchange([...h2].map((b) => Buffer.from([b])).concat([payload]));
  assert.deepEqual(two.header.addresses, { remoteIp: '10.9.8.7', remotePort: 4321, localIp: '10.6.5.4', localPort: 443 });
  assert.equal(two.header.length, h2.length);
  assert.ok(two.rest.equals(payload));
});

test('header and a large payload in one write, then FIN: every byte, in order, then the end', async () => {
  const payload = randomBytes(512 * 1024);
  const line = 'PROXY TCP4 1.1.1.1 2.2.2.2 1 2\r\n';
  const { rest } = await exchange([Buffer.concat([Buffer.from(line), payload])], { late: true });
  assert.ok(rest.equals(payload));
  const h2 = v2(0x21, 0x21, Buffer.alloc(36, 1));
  const second = await exchange([Buffer.concat([h2, payload])], { late: true });
  assert.ok(second.rest.equals(payload));
});

// v2 -------------------------------------------------------------------------

test('v2 PROXY over IPv4 and IPv6', async () => {
  const four = await exchange([Buffer.concat([v2(0x21, 0x11, inet4Block([127, 0, 0, 9], [127, 0, 0, 1], 40000, 4443)), Buffer.from('P')])], { late: true });
  assert.deepEqual(four.header, { version: 2, command: 'proxy', length: 28, addresses: { remoteIp: '127.0.0.9', remotePort: 40000, localIp: '127.0.0.1', localPort: 4443 } });
  assert.equal(four.rest.toString(), 'P');
  const block = Buffer.alloc(36);
  block[0] = 0x20;
  block[1] = 0x01;
  block[15] = 0x05;
  block[31] = 0x01;
  block.writeUInt16BE(65535, 32);
  block.writeUInt16BE(1, 34);
  const six = await exchange([v2(0x21, 0x21, block), 'Q']);
  assert.deepEqual(six.header.addresses, { remoteIp: '2001::5', remotePort: 65535, localIp: '::1', localPort: 1 });
  assert.equal(six.rest.toString(), 'Q');
});

test('v2 LOCAL, UNSPEC: the block is skipped whole (TLVs and all), no variable changes', async () => {
  const block = Buffer.concat([inet4Block([9, 9, 9, 9], [8, 8, 8, 8], 1, 2), tlv(0x02, 'ignored.example')]);
  const local = await exchange([v2(0x20, 0x11, block), 'after-local']);
  assert.deepEqual(local.header, { version: 2, command: 'local', length: 16 + block.length });
  assert.deepEqual(proxyEnvironment(local.header), {});
  assert.equal(local.rest.toString(), 'after-local');
  const empty = await exchange([v2(0x20, 0x00, Buffer.alloc(0)), 'z']);
  assert.deepEqual(empty.header, { version: 2, command: 'local', length: 16 });
  assert.equal(empty.rest.toString(), 'z');
  const unspec = parseProxyHeader(v2(0x21, 0x00, Buffer.alloc(5)));
  assert.deepEqual(unspec, { version: 2, command: 'proxy', length: 21 });
  assert.deepEqual(parseProxyHeader(v2(0x21, 0x10, Buffer.alloc(3))), { version: 2, command: 'proxy', length: 19 });
});

test('v2 TLVs: AUTHORITY and SSL become the SSL variables, others are skipped', async () => {
  const ssl = Buffer.concat([
    Buffer.from([0x07, 0, 0, 0, 0]),
    tlv(0x21, 'TLSv1.3'),
    tlv(0x22, 'client.example'),
    tlv(0x23, 'TLS_AES_256_GCM_SHA384'),
    tlv(0x24, 'SHA256'),
    tlv(0x25, 'RSA2048'),
  ]);
  const block = Buffer.concat([
    inet4Block([203, 0, 113, 7], [192, 0, 2, 80], 51000, 443),
    tlv(0x01, 'h2'),
    tlv(0x02, 'www.example\0junk'),
    tlv(0x04, Buffer.alloc(0)),
    tlv(0x05, randomBytes(128)),
    tlv(0x20, ssl),
    tlv(0xe0, 'custom'),
  ]);
  const { header, rest } = await exchange([Buffer.concat([v2(0x21, 0x11, block), Buffer.from('data')])], { late: true });
  assert.equal(header.authority, 'www.example');
  assert.deepEqual(header.ssl, { client: 7, verify: 0, version: 'TLSv1.3', commonName: 'client.example', cipher: 'TLS_AES_256_GCM_SHA384' });
  assert.deepEqual(proxyTlsEnvironment(header), { SSL_TLS_SNI_SERVERNAME: 'www.example', SSL_PROTOCOL: 'TLSv1.3', SSL_PEER_CERT_CN: 'client.example', SSL_CIPHER: 'TLS_AES_256_GCM_SHA384' });
  assert.equal(rest.toString(), 'data');
  // Without the PP2_CLIENT_SSL flag the sub-TLVs give nothing, as in C.
  const noFlag = parseProxyHeader(v2(0x21, 0x11, Buffer.concat([inet4Block([1, 1, 1, 1], [2, 2, 2, 2], 1, 2), tlv(0x20, Buffer.concat([Buffer.from([0x02, 0, 0, 0, 1]), tlv(0x21, 'TLSv1.2')]))])));
  assert.equal(proxyTlsEnvironment(noFlag as ProxyHeader).SSL_PROTOCOL, undefined);
});

test('v2 CRC32C: a right checksum passes, a wrong one is refused', () => {
  assert.equal(crc32c(Buffer.from('123456789')), 0xe3069283); // RFC 3720's check value
  const withCrc = (fix: (h: Buffer) => void): Buffer => {
    const h = v2(0x21, 0x11, Buffer.concat([inet4Block([1, 2, 3, 4], [5, 6, 7, 8], 9, 10), tlv(0x03, Buffer.alloc(4)), tlv(0x05, 'id')]));
    h.writeUInt32BE(crc32c(h), 28 + 3);
    fix(h);
    return h;
  };
  assert.equal(parseProxyHeader(withCrc(() => undefined))?.addresses?.remotePort, 9);
  refused(withCrc((h) => (h[h.length - 1] ^= 1)), 1, /CRC32C checksum does not match/);
  refused(withCrc((h) => (h[28 + 3] ^= 0x80)), 1, /CRC32C checksum does not match/);
  refused(v2(0x21, 0x11, Buffer.concat([inet4Block([1, 2, 3, 4], [5, 6, 7, 8], 9, 10), tlv(0x03, Buffer.alloc(3))])), 1, /CRC32C TLV of 3 bytes/);
});

test('v2 AF_UNIX: the two paths, PROTO=IPC', () => {
  const block = Buffer.alloc(216);
  block.write('/run/client.sock', 0);
  block.write('/run/server.sock', 108);
  const header = parseProxyHeader(v2(0x21, 0x31, block)) as ProxyHeader;
  assert.deepEqual(header.unixPaths, { remotePath: '/run/client.sock', localPath: '/run/server.sock' });
  assert.equal(header.addresses, undefined);
  assert.deepEqual(proxyEnvironment(header), { PROTO: 'IPC', IPCREMOTEPATH: '/run/client.sock', IPCLOCALPATH: '/run/server.sock' });
});

// What is refused --------------------------------------------------------------

function refused(data: Buffer | string, code: number, words: RegExp): void {
  const bytes = typeof data === 'string' ? Buffer.from(data, 'latin1') : data;
  assert.throws(
    () => parseProxyHeader(bytes),
    (err: unknown) => err instanceof FatalError && err.exitCode === code && words.test(err.message),
    JSON.stringify(bytes.toString('latin1')),
  );
}

test('bad v1 lines: exit 1 and words that say what is wrong', () => {
  const ok = (rest: string): string => `PROXY TCP4 1.2.3.4 5.6.7.8 ${rest}\r\n`;
  for (const port of ['65536', '01', '-1', '+1', '1a', '0x10', '', '99999', '1.0', '１']) {
    refused(ok(`${port} 80`), 1, /source port/);
    refused(ok(`80 ${port}`), 1, /destination port|single spaces/);
  }
  refused(ok('1  2'), 1, /single spaces/);
  refused(ok('1 2 '), 1, /single spaces/);
  refused('PROXY TCP4  1.2.3.4 5.6.7.8 1 2\r\n', 1, /single spaces/);
  for (const ip of ['1.2.3', '1.2.3.4.5', '01.2.3.4', '256.1.1.1', '1.2.3.-4', '::1', '1.2.3.4 ']) refused(`PROXY TCP4 ${ip} 5.6.7.8 1 2\r\n`, 1, /source address|single spaces/);
  for (const ip of ['1.2.3.4', 'fe80::1%eth0', '[::1]', '1:2:3:4:5:6:7:8:9', '1:2:3:4:5:6:7', ':::1', '1::2::3', '12345::', 'g::1', '::1.2.3', '1:2:3:4:5:6:7:8::'])
    refused(`PROXY TCP6 ::1 ${ip} 1 2\r\n`, 1, /destination address/);
  refused('PROXY TCP5 1.2.3.4 5.6.7.8 1 2\r\n', 1, /protocol/);
  refused('PROXY tcp4 1.2.3.4 5.6.7.8 1 2\r\n', 1, /protocol/);
  refused('PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n', 1, /CRLF/);
  refused('PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\r\n', 1, /destination port/);
  refused('PROXY UNKNOWN\n', 1, /CRLF/);
  refused('PROXY \r\n', 1, /protocol/);
  refused('GET / HTTP/1.1\r\n', 1, /signature/);
  refused('PROXX', 1, /signature/);
  refused('\x16\x03\x01\x02\x00', 1, /signature/);
  refused(`PROXY UNKNOWN ${'x'.repeat(V1_MAX_LENGTH)}`, 1, /no LF in its first 107 bytes/);
  // 107 bytes with the CRLF is the most there may be, UNKNOWN or not.
  const longest = `PROXY UNKNOWN ${'f'.repeat(V1_MAX_LENGTH - 16)}\r\n`;
  assert.equal(longest.length, V1_MAX_LENGTH);
  assert.equal(parseProxyHeader(Buffer.from(longest))?.length, V1_MAX_LENGTH);
  refused(`PROXY UNKNOWN ${'f'.repeat(V1_MAX_LENGTH - 15)}\r\n`, 1, /no LF/);
  // Not enough yet to tell: wait.
  for (const part of ['', 'P', 'PROXY', 'PROXY TCP4 1.2.3.4', '\r\n\r\n\0\r\nQUI', 'PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r'])
    assert.equal(parseProxyHeader(Buffer.from(part, 'latin1')), undefined, part);
});

test('bad v2 headers: exit 1, and 2 for datagrams', () => {
  const addr = inet4Block([1, 2, 3, 4], [5, 6, 7, 8], 1, 2);
  refused(v2(0x11, 0x11, addr), 1, /version 1, not 2/);
  refused(v2(0x31, 0x11, addr), 1, /version 3/);
  refused(v2(0x22, 0x11, addr), 1, /command 2/);
  refused(v2(0x2f, 0x11, addr), 1, /command 15/);
  refused(v2(0x21, 0x41, addr), 1, /family 4/);
  refused(v2(0x21, 0x13, addr), 1, /transport protocol 3/);
  refused(v2(0x21, 0x03, addr), 1, /transport protocol 3/);
  refused(v2(0x21, 0x12, addr), 2, /datagram/);
  refused(v2(0x21, 0x22, Buffer.alloc(36)), 2, /datagram/);
  refused(v2(0x21, 0x11, addr.subarray(0, 11)), 1, /shorter than the 12 bytes/);
  refused(v2(0x21, 0x21, addr), 1, /shorter than the 36 bytes/);
  refused(v2(0x21, 0x31, Buffer.alloc(215)), 1, /shorter than the 216 bytes/);
  refused(v2(0x21, 0x11, Buffer.concat([addr, Buffer.from([0x04, 0])])), 1, /cut short/);
  refused(v2(0x21, 0x11, Buffer.concat([addr, Buffer.from([0x04, 0, 2, 0])])), 1, /longer than what is left/);
  refused(v2(0x21, 0x11, Buffer.concat([addr, tlv(0x20, Buffer.from([1, 0, 0, 0]))])), 1, /5 fixed bytes/);
  refused(v2(0x21, 0x11, Buffer.concat([addr, tlv(0x20, Buffer.concat([Buffer.from([1, 0, 0, 0, 0]), Buffer.from([0x21, 0, 9, 1])]))])), 1, /sub-TLV of type 0x21 longer/);
  refused(v2(0x21, 0x11, Buffer.concat([addr, tlv(0x21, 'TLSv1.3')])), 1, /outside the SSL TLV/);
  refused(v2(0x21, 0x11, Buffer.concat([addr, tlv(0x20, Buffer.concat([Buffer.from([1, 0, 0, 0, 0]), tlv(0x02, 'x')]))])), 1, /inside the SSL TLV/);
  // The length is judged from the 16 fixed bytes, before the block comes.
  const huge = Buffer.concat([V2_MAGIC, Buffer.from([0x21, 0x11, 0xff, 0xff])]);
  refused(huge, 1, new RegExp(`length 65535, more than the ${V2_MAX_LENGTH} bytes`));
  // So is a bad version, command or family, before the length.
  refused(Buffer.concat([V2_MAGIC, Buffer.from([0x10])]), 1, /version 1/);
  // The largest taken is taken.
  const max = v2(0x21, 0x11, Buffer.concat([addr, tlv(0x04, Buffer.alloc(V2_MAX_LENGTH - 12 - 3))]));
  assert.equal(parseProxyHeader(max)?.length, 16 + V2_MAX_LENGTH);
});

test('over a socket: garbage, too long a v1 line and a bad port are refused at once, without waiting for the end', async () => {
  const garbage = await failure(['GET / HTTP/1.0\r\n']);
  assert.equal(garbage.exitCode, 1);
  const long = await failure([`PROXY TCP4 ${'9'.repeat(120)}`]);
  assert.match(long.message, /no LF in its first 107 bytes/);
  const port = await failure(['PROXY TCP4 1.2.3.4 5.6.7.8 65536 80\r\nrest']);
  assert.match(port.message, /^invalid PROXY header: v1 source port/);
});

test('an end, a reset or a timeout before the header is complete: exit 111, never a hang', async () => {
  const v1end = await failure(['PROXY TCP4 1.2.3.4 5.6.7.8 1'], { end: true });
  assert.equal(v1end.exitCode, 111);
  assert.equal(v1end.message, 'unable to read PROXY header: end of file after 28 bytes');
  const v2end = await failure([v2(0x21, 0x11, Buffer.alloc(12)).subarray(0, 20)], { end: true });
  assert.match(v2end.message, /end of file after 20 bytes/);
  const nothing = await failure([], { end: true });
  assert.match(nothing.message, /end of file after 0 bytes/);
  const reset = await failure(['PROXY '], { reset: true });
  assert.equal(reset.exitCode, 111);
  assert.match(reset.message, /^unable to read PROXY header: /);
  const slow = await failure(['PROX'], { timeoutMs: 50 });
  assert.equal(slow.exitCode, 111);
  // Usually 4 bytes came first; a loaded machine may fire the timer before reading them.
  assert.match(slow.message, /^unable to read PROXY header: timed out after 50 ms \((4 bytes|0 bytes) received\)$/);
});

test('TLS right after the header: a ClientHello in the same read as the header, the handshake and the data go through', async (t) => {
  const { pki, leaf, root } = serverPki();
  t.after(() => pki.remove());
  const { port, next } = await pausedServer();
  const raw = connect({ port, host: '127.0.0.1' });
  const socket = await next();
  const header = 'PROXY TCP4 192.0.2.9 192.0.2.10 5555 443\r\n';
  // The TLS client writes through us: its first record (the ClientHello)
  // goes out in the same write as the header.
  let helloSent: () => void = () => undefined;
  const sent = new Promise<void>((resolve) => (helloSent = resolve));
  let first = true;
  const relay = new Duplex({
    write(chunk: Buffer, _encoding, callback) {
      if (!first) {
        raw.write(chunk, callback);
        return;
      }
      first = false;
      raw.write(Buffer.concat([Buffer.from(header), chunk]), (err) => {
        callback(err);
        helloSent();
      });
    },
    read() {},
    final(callback) {
      raw.end();
      callback();
    },
  });
  raw.on('data', (c: Buffer) => relay.push(c));
  raw.on('end', () => relay.push(null));
  raw.on('error', () => undefined);
  const client = tlsConnect({ socket: relay, servername: 'server.test', ca: root.certPem });
  // Only once the ClientHello sits in the kernel behind the header do we read.
  await sent;
  const got = await readProxyHeader(socket, { timeoutMs: 60_000 });
  assert.ok(socket.bytesRead > header.length, 'the ClientHello came in the read that ended the header');
  assert.equal(got.addresses?.remotePort, 5555);
  const server = new TLSSocket(socket, { isServer: true, secureContext: createSecureContext({ key: leaf.keyPem, cert: leaf.certPem }) });
  server.on('data', (c: Buffer) => server.write(Buffer.concat([Buffer.from('echo:'), c])));
  await once(client, 'secureConnect');
  client.write('ping');
  const [answer] = (await once(client, 'data')) as [Buffer];
  assert.equal(answer.toString(), 'echo:ping');
  client.destroy();
  server.destroy();
  raw.destroy();
});

// haproxy ---------------------------------------------------------------------

test('behind the real haproxy (send-proxy, send-proxy-v2): the client\'s own address and port, the data whole both ways', async (t) => {
  // Our end: the header, then an echo of every byte, the header's words first.
  const seen: ProxyHeader[] = [];
  const ours = createServer({ pauseOnConnect: true, allowHalfOpen: true }, (s) => {
    s.on('error', () => undefined);
    readProxyHeader(s, { timeoutMs: 60_000 }).then(
      (h) => {
        seen.push(h);
        s.pipe(s);
        s.resume();
      },
      () => undefined,
    );
  });
  servers.push(ours);
  ours.listen(0, '127.0.0.1');
  await once(ours, 'listening');
  const backend = (ours.address() as { port: number }).port;
  const { v1Port, v2Port } = await startHaproxy(t, backend);
  // The probes above may have reached us too: each client is told by its source port.
  for (const [version, frontend] of [
    [1, v1Port],
    [2, v2Port],
  ] as const) {
    seen.length = 0;
    const sourcePort = await freePort();
    const client = connect({ port: frontend, host: '127.0.0.1', localAddress: '127.0.0.1', localPort: sourcePort });
    await once(client, 'connect');
    const payload = randomBytes(256 * 1024);
    const back: Buffer[] = [];
    client.on('data', (c: Buffer) => back.push(c));
    client.end(payload);
    await once(client, 'end');
    assert.ok(Buffer.concat(back).equals(payload), `v${version}: ${Buffer.concat(back).length} bytes of ${payload.length} came back`);
    const mine = seen.filter((h) => h.addresses?.remotePort === sourcePort);
    assert.equal(mine.length, 1, `v${version}: ${JSON.stringify(seen)}`);
    assert.equal(mine[0].version, version);
    assert.deepEqual(mine[0].addresses, { remoteIp: '127.0.0.1', remotePort: sourcePort, localIp: '127.0.0.1', localPort: frontend });
    // v2: the unique id and checksum TLVs were there (and the checksum right).
    if (version === 2) assert.ok(mine[0].length > 16 + 12 + 7, `v2 header of ${mine[0].length} bytes`);
    client.destroy();
  }
});
