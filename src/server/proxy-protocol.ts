// s6-tlsserver -L: the PROXY protocol header (haproxy's doc/proxy-protocol.txt,
// v1 text and v2 binary) read in cleartext before the TLS layer gets the
// socket. The C tools do it in proxy-server --before-tlsd (headers, exit
// codes) and --after-tlsd (the SSL variables); here it is a function over one
// socket of the super-server, and two functions that say which variables the
// header changes. See doc/proxy-protocol.md.

import { formatIp6 } from './access-rules';
import type { Socket } from 'net';
import { EXIT_SYSTEM, FatalError, describeSystemError } from '../base/errors';
import { startTimer } from '../base/timer';

/** proxy-server's exit codes: a header that breaks the protocol, a protocol it does not serve. */
export const EXIT_PROXY_INVALID = 1;
export const EXIT_PROXY_UNSUPPORTED = 2;

/** The spec's worst case, "PROXY UNKNOWN" with two full IPv6 addresses and ports. */
export const V1_MAX_LENGTH = 107;
/**
 * The v2 length field may say up to 65535; we take at most this many bytes
 * after the 16 fixed ones. Addresses and every TLV haproxy sends (SSL
 * strings, SNI, a unique id of at most 128 bytes) stay far below 1 KiB, and
 * a connection still in its header holds no more than this.
 */
export const V2_MAX_LENGTH = 4096;

const V1_MAGIC = Buffer.from('PROXY ', 'latin1');
const V2_MAGIC = Buffer.from('\r\n\r\n\0\r\nQUIT\n', 'latin1');

export interface ProxyAddresses {
  remoteIp: string;
  remotePort: number;
  localIp: string;
  localPort: number;
}

/** v2 AF_UNIX: the two socket paths, each cut at its first NUL. */
export interface ProxyUnixPaths {
  remotePath: string;
  localPath: string;
}

/** v2 PP2_TYPE_SSL: the client's TLS connection to the proxy, as the proxy saw it. */
export interface ProxySslInfo {
  /** PP2_CLIENT_SSL (1), PP2_CLIENT_CERT_CONN (2), PP2_CLIENT_CERT_SESS (4) */
  client: number;
  /** 0: the client's certificate was verified */
  verify: number;
  version?: string;
  cipher?: string;
  commonName?: string;
}

export interface ProxyHeader {
  version: 1 | 2;
  /** 'local': a v2 LOCAL command, a connection the proxy made on its own (health check) */
  command: 'proxy' | 'local';
  /** TCP over IPv4 or IPv6; absent for v1 UNKNOWN, v2 LOCAL, v2 UNSPEC and AF_UNIX */
  addresses?: ProxyAddresses;
  unixPaths?: ProxyUnixPaths;
  /** v2 PP2_TYPE_AUTHORITY: the SNI the client sent to the proxy */
  authority?: string;
  ssl?: ProxySslInfo;
  /** bytes the header took on the wire */
  length: number;
}

export interface ReadProxyHeaderOptions {
  /** rejects when the header is not complete within this many ms; 0 waits forever, as proxy-server without -t */
  timeoutMs: number;
}

function invalid(words: string): FatalError {
  return new FatalError(EXIT_PROXY_INVALID, `invalid PROXY header: ${words}`);
}

/**
 * Reads exactly one header from a socket not yet read (net.Server's
 * pauseOnConnect). On success every byte after the header is back at the
 * front of the socket's readable buffer, the socket is paused as
 * pauseOnConnect left it and none of our listeners remain: the next reader
 * (.on('data') and resume(), pipe, new TLSSocket) sees exactly what followed
 * the header. On a bad header (exit code 1 or 2), an end or an error before
 * it is complete, or the timeout (111) it rejects with one line and destroys
 * the socket, as the spec asks a receiver to abort. Nobody else may read the
 * socket meanwhile; the caller keeps its own 'error' listener on it, as
 * ours is gone once the promise settles.
 */
export function readProxyHeader(socket: Socket, opts: ReadProxyHeaderOptions): Promise<ProxyHeader> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let received = 0;
    let settled = false;

    const cleanup = (): void => {
      settled = true;
      timer?.cancel();
      socket.removeListener('data', onData);
      socket.removeListener('end', onEnd);
      socket.removeListener('close', onClose);
      socket.removeListener('error', onError);
    };
    const fail = (err: FatalError): void => {
      if (settled) return;
      cleanup();
      socket.pause();
      socket.destroy();
      reject(err);
    };
    const onData = (chunk: Buffer): void => {
      if (settled) return;
      chunks.push(chunk);
      received += chunk.length;
      const data = chunks.length === 1 ? chunk : Buffer.concat(chunks, received);
      if (chunks.length > 1) chunks.splice(0, chunks.length, data);
      let header: ProxyHeader | undefined;
      try {
        header = parseProxyHeader(data);
      } catch (err) {
        // Only FatalErrors are meant; anything else is still a header we cannot take.
        return fail(err instanceof FatalError ? err : invalid(String(err)));
      }
      if (!header) return;
      cleanup();
      // Stop the flow before giving the rest back: unshift puts it in front
      // of anything the socket has buffered since, which came after it.
      socket.pause();
      if (data.length > header.length) socket.unshift(data.subarray(header.length));
      resolve(header);
    };
    const bytes = (): string => `${received} byte${received === 1 ? '' : 's'}`;
    const early = (how: string): FatalError => new FatalError(EXIT_SYSTEM, `unable to read PROXY header: ${how} after ${bytes()}`);
    const onEnd = (): void => fail(early('end of file'));
    const onClose = (): void => fail(early('connection closed'));
    const onError = (err: Error): void => fail(new FatalError(EXIT_SYSTEM, `unable to read PROXY header: ${describeSystemError(err)}`));

    const timer =
      opts.timeoutMs > 0
        ? startTimer(opts.timeoutMs, () => fail(new FatalError(EXIT_SYSTEM, `unable to read PROXY header: timed out after ${opts.timeoutMs} ms (${bytes()} received)`)))
        : undefined;
    if (socket.destroyed || socket.readableEnded) return fail(early('connection closed'));
    socket.on('data', onData);
    socket.on('end', onEnd);
    socket.on('close', onClose);
    socket.on('error', onError);
    // A pauseOnConnect socket does not start flowing when 'data' is listened to.
    socket.resume();
  });
}

/**
 * The header at the start of `data`, undefined while more bytes are needed
 * to tell; throws as soon as the bytes cannot be a valid header. Exported for
 * the tests of every field.
 */
export function parseProxyHeader(data: Buffer): ProxyHeader | undefined {
  if (startsLike(data, V1_MAGIC)) return data.length < V1_MAGIC.length ? undefined : parseV1(data);
  if (startsLike(data, V2_MAGIC)) return data.length < V2_MAGIC.length ? undefined : parseV2(data);
  throw invalid('neither the v1 "PROXY " nor the v2 signature');
}

/** data is a prefix of magic, or magic a prefix of data. */
function startsLike(data: Buffer, magic: Buffer): boolean {
  const n = Math.min(data.length, magic.length);
  return data.subarray(0, n).equals(magic.subarray(0, n));
}

// v1 ---------------------------------------------------------------------

function parseV1(data: Buffer): ProxyHeader | undefined {
  const lf = data.subarray(0, V1_MAX_LENGTH).indexOf(0x0a);
  if (lf < 0) {
    if (data.length >= V1_MAX_LENGTH) throw invalid(`v1 line with no LF in its first ${V1_MAX_LENGTH} bytes`);
    return undefined;
  }
  // The spec forbids a bare LF (or a bare CR) as the end of the line.
  if (lf === 0 || data[lf - 1] !== 0x0d) throw invalid('v1 line not ended by CRLF');
  const line = data.subarray(V1_MAGIC.length, lf - 1).toString('latin1');
  const length = lf + 1;
  // UNKNOWN: anything up to the CRLF is to be ignored, and the real endpoints kept.
  if (line === 'UNKNOWN' || line.startsWith('UNKNOWN ')) return { version: 1, command: 'proxy', length };
  const fields = line.split(' ');
  if (fields[0] !== 'TCP4' && fields[0] !== 'TCP6') throw invalid('v1 protocol neither TCP4, TCP6 nor UNKNOWN');
  if (fields.length !== 5) throw invalid('v1 line not "PROXY TCPn SRC DST SPORT DPORT" with single spaces');
  const parseIp = fields[0] === 'TCP4' ? parseIpv4 : parseIpv6;
  const remote = parseIp(fields[1]);
  if (!remote) throw invalid(`v1 source address not ${fields[0] === 'TCP4' ? 'IPv4' : 'IPv6'}`);
  const local = parseIp(fields[2]);
  if (!local) throw invalid(`v1 destination address not ${fields[0] === 'TCP4' ? 'IPv4' : 'IPv6'}`);
  const remotePort = parsePort(fields[3]);
  if (remotePort === undefined) throw invalid('v1 source port not a decimal 0-65535 without leading zeros');
  const localPort = parsePort(fields[4]);
  if (localPort === undefined) throw invalid('v1 destination port not a decimal 0-65535 without leading zeros');
  return { version: 1, command: 'proxy', addresses: { remoteIp: formatIp(remote), remotePort, localIp: formatIp(local), localPort }, length };
}

const DECIMAL = /^(?:0|[1-9][0-9]{0,4})$/;

function parsePort(text: string): number | undefined {
  if (!DECIMAL.test(text)) return undefined;
  const n = Number(text);
  return n <= 65535 ? n : undefined;
}

/** Four decimals 0-255 with no leading zero (the spec rules out octal look-alikes). */
function parseIpv4(text: string): Buffer | undefined {
  const parts = text.split('.');
  if (parts.length !== 4) return undefined;
  const out = Buffer.alloc(4);
  for (let i = 0; i < 4; i++) {
    if (!DECIMAL.test(parts[i])) return undefined;
    const n = Number(parts[i]);
    if (n > 255) return undefined;
    out[i] = n;
  }
  return out;
}

/** Groups of 1-4 hex digits, at most one "::", an optional dotted IPv4 tail; no zone, no brackets. */
function parseIpv6(text: string): Buffer | undefined {
  const halves = text.split('::');
  if (halves.length > 2) return undefined;
  const groupsOf = (part: string, last: boolean): number[] | undefined => {
    if (part === '') return [];
    const out: number[] = [];
    const items = part.split(':');
    for (let i = 0; i < items.length; i++) {
      const item = items[i];
      if (last && i === items.length - 1 && item.includes('.')) {
        const v4 = parseIpv4(item);
        if (!v4) return undefined;
        out.push(v4.readUInt16BE(0), v4.readUInt16BE(2));
      } else if (/^[0-9a-fA-F]{1,4}$/.test(item)) {
        out.push(parseInt(item, 16));
      } else return undefined;
    }
    return out;
  };
  const head = groupsOf(halves[0], halves.length === 1);
  const tail = halves.length === 2 ? groupsOf(halves[1], true) : [];
  if (!head || !tail) return undefined;
  const count = head.length + tail.length;
  if (halves.length === 1 ? count !== 8 : count > 7) return undefined;
  const groups = [...head, ...new Array<number>(8 - count).fill(0), ...tail];
  const out = Buffer.alloc(16);
  groups.forEach((g, i) => out.writeUInt16BE(g, i * 2));
  return out;
}

/**
 * An address as skalibs' ip4_fmt and ip6_fmt write it, so TCPREMOTEIP reads
 * as under C: lowercase, no leading zeros, the first longest run of two or
 * more zero groups as "::", and no dotted tail for a v4-mapped address.
 */
export function formatIp(ip: Buffer): string {
  return ip.length === 4 ? Array.from(ip).join('.') : formatIp6(ip);
}

// v2 ---------------------------------------------------------------------

const PP2_TYPE_AUTHORITY = 0x02;
const PP2_TYPE_CRC32C = 0x03;
const PP2_TYPE_SSL = 0x20;
const PP2_SUBTYPE_SSL_VERSION = 0x21;
const PP2_SUBTYPE_SSL_CN = 0x22;
const PP2_SUBTYPE_SSL_CIPHER = 0x23;
const PP2_CLIENT_SSL = 0x01;

/** Address block sizes of AF_INET, AF_INET6, AF_UNIX. */
const ADDRESS_LENGTH: Record<number, number> = { 1: 12, 2: 36, 3: 216 };

function parseV2(data: Buffer): ProxyHeader | undefined {
  // The 13th and 14th bytes can be judged before the rest arrives.
  if (data.length > 12 && data[12] >> 4 !== 2) throw invalid(`v2 version ${data[12] >> 4}, not 2`);
  const command = data.length > 12 ? data[12] & 0x0f : 0;
  if (command > 1) throw invalid(`v2 command ${command}, neither LOCAL (0) nor PROXY (1)`);
  const family = data.length > 13 ? data[13] >> 4 : 0;
  const transport = data.length > 13 ? data[13] & 0x0f : 0;
  if (family > 3) throw invalid(`v2 address family ${family}, not 0-3`);
  if (transport > 2) throw invalid(`v2 transport protocol ${transport}, not 0-2`);
  if (data.length < 16) return undefined;
  const blockLength = data.readUInt16BE(14);
  if (blockLength > V2_MAX_LENGTH) throw invalid(`v2 length ${blockLength}, more than the ${V2_MAX_LENGTH} bytes taken`);
  const length = 16 + blockLength;
  if (data.length < length) return undefined;
  const block = data.subarray(16, length);

  // LOCAL: the spec says to keep the real endpoints and discard the whole
  // block, family included. UNSPEC family or transport: nothing to use.
  if (command === 0) return { version: 2, command: 'local', length };
  if (family === 0 || transport === 0) return { version: 2, command: 'proxy', length };
  if (transport === 2) throw new FatalError(EXIT_PROXY_UNSUPPORTED, 'unsupported PROXY header: v2 transport protocol datagram');
  const addressLength = ADDRESS_LENGTH[family];
  if (blockLength < addressLength) throw invalid(`v2 length ${blockLength}, shorter than the ${addressLength} bytes of its addresses`);

  const header: ProxyHeader = { version: 2, command: 'proxy', length };
  if (family === 3) {
    header.unixPaths = { remotePath: cString(block.subarray(0, 108)), localPath: cString(block.subarray(108, 216)) };
  } else {
    const size = family === 1 ? 4 : 16;
    header.addresses = {
      remoteIp: formatIp(block.subarray(0, size)),
      localIp: formatIp(block.subarray(size, 2 * size)),
      remotePort: block.readUInt16BE(2 * size),
      localPort: block.readUInt16BE(2 * size + 2),
    };
  }
  const seen: { crcAt?: number } = {};
  readTlvs(block.subarray(addressLength), false, header, seen);
  if (seen.crcAt !== undefined) checkCrc32c(data.subarray(0, length), 16 + addressLength + seen.crcAt);
  return header;
}

/**
 * The spec asks a receiver that knows CRC32C to check it: the checksum of
 * the whole header with the 4 checksum bytes as zeros. C's proxy-server
 * skips it; a header damaged on its way is better refused than believed.
 */
function checkCrc32c(header: Buffer, at: number): void {
  const given = header.readUInt32BE(at);
  const zeroed = Buffer.from(header);
  zeroed.fill(0, at, at + 4);
  if (crc32c(zeroed) !== given) throw invalid('v2 CRC32C checksum does not match the header');
}

let crcTable: Uint32Array | undefined;

/** CRC-32C (Castagnoli, RFC 4960 appendix B), reflected, as haproxy computes it. */
export function crc32c(bytes: Buffer): number {
  if (!crcTable) {
    crcTable = new Uint32Array(256);
    for (let i = 0; i < 256; i++) {
      let c = i;
      for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
      crcTable[i] = c >>> 0;
    }
  }
  let crc = 0xffffffff;
  for (const b of bytes) crc = crcTable[(crc ^ b) & 0xff] ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

/** A TLV value as C puts it in the environment: cut at its first NUL. */
function cString(bytes: Buffer): string {
  const nul = bytes.indexOf(0);
  return (nul < 0 ? bytes : bytes.subarray(0, nul)).toString('utf8');
}

/**
 * The TLVs proxy-server uses: AUTHORITY at the top, SSL at the top with
 * VERSION, CN and CIPHER inside it; CRC32C, found here and checked by the
 * caller; the others (ALPN, NOOP, UNIQUE_ID, NETNS, custom ones) are skipped. Each one's length must fit
 * what is left, and a known type at the wrong level is an error, as in C.
 * The last of a repeated type wins, as C's environment does.
 */
function readTlvs(bytes: Buffer, inSsl: boolean, header: ProxyHeader, seen: { crcAt?: number }): void {
  const where = inSsl ? 'v2 SSL sub-TLV' : 'v2 TLV';
  for (let pos = 0; pos < bytes.length; ) {
    if (bytes.length - pos < 3) throw invalid(`${where} cut short`);
    const type = bytes[pos];
    const n = bytes.readUInt16BE(pos + 1);
    const value = bytes.subarray(pos + 3, pos + 3 + n);
    if (value.length < n) throw invalid(`${where} of type 0x${type.toString(16)} longer than what is left`);
    pos += 3 + n;
    const ssl = header.ssl;
    if (!inSsl && type >= PP2_SUBTYPE_SSL_VERSION && type <= PP2_SUBTYPE_SSL_CIPHER) throw invalid(`SSL sub-type 0x${type.toString(16)} outside the SSL TLV`);
    if (inSsl && (type === PP2_TYPE_AUTHORITY || type === PP2_TYPE_SSL)) throw invalid(`type 0x${type.toString(16)} inside the SSL TLV`);
    if (inSsl && type === PP2_TYPE_CRC32C) throw invalid('type 0x3 inside the SSL TLV');
    if (type === PP2_TYPE_CRC32C) {
      if (n !== 4) throw invalid(`v2 CRC32C TLV of ${n} bytes, not 4`);
      if (seen.crcAt !== undefined) throw invalid('two v2 CRC32C TLVs');
      seen.crcAt = pos - 4;
    } else if (type === PP2_TYPE_AUTHORITY) header.authority = cString(value);
    else if (type === PP2_TYPE_SSL) {
      if (n < 5) throw invalid('v2 SSL TLV shorter than its 5 fixed bytes');
      header.ssl = { client: value[0], verify: value.readUInt32BE(1) };
      readTlvs(value.subarray(5), true, header, seen);
    } else if (ssl && type === PP2_SUBTYPE_SSL_VERSION) ssl.version = cString(value);
    else if (ssl && type === PP2_SUBTYPE_SSL_CN) ssl.commonName = cString(value);
    else if (ssl && type === PP2_SUBTYPE_SSL_CIPHER) ssl.cipher = cString(value);
  }
}

// The environment ------------------------------------------------------------

/**
 * What proxy-server --before-tlsd adds or changes (undefined: unset). It
 * never removes the TCP variables: TCPREMOTEHOST and TCPREMOTEINFO, if set,
 * still describe the proxy. An AF_UNIX header sets PROTO=IPC and the IPC
 * paths and leaves the TCP ones, as C does.
 */
export function proxyEnvironment(header: ProxyHeader): Record<string, string> {
  if (header.addresses) {
    const a = header.addresses;
    return { PROTO: 'TCP', TCPREMOTEIP: a.remoteIp, TCPREMOTEPORT: String(a.remotePort), TCPLOCALIP: a.localIp, TCPLOCALPORT: String(a.localPort) };
  }
  if (header.unixPaths) return { PROTO: 'IPC', IPCREMOTEPATH: header.unixPaths.remotePath, IPCLOCALPATH: header.unixPaths.localPath };
  return {};
}

/**
 * What proxy-server --after-tlsd does to the TLS report's variables: each of
 * these four takes the proxy's value, or is unset when the header gave none
 * (the TLS layer's own values describe the proxy's connection to us, not the
 * client's). The SSL sub-TLVs count only when the client flag says SSL.
 * To apply after the TLS report's variables.
 */
export function proxyTlsEnvironment(header: ProxyHeader): Record<string, string | undefined> {
  const ssl = header.ssl && header.ssl.client & PP2_CLIENT_SSL ? header.ssl : undefined;
  return {
    SSL_TLS_SNI_SERVERNAME: header.authority,
    SSL_PROTOCOL: ssl?.version,
    SSL_PEER_CERT_CN: ssl?.commonName,
    SSL_CIPHER: ssl?.cipher,
  };
}
