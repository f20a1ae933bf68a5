// A scriptable hostile TLS server on 127.0.0.1. A real Node TLS server runs
// over an in-memory duplex; between it and the client's TCP connection sits
// a record-aware wire that each test scripts: it can cut (FIN), reset,
// corrupt, drop, delay, trickle or inject at byte or record level. For TLS
// 1.3 (AES-128-GCM, forced) the wire learns the server's traffic secrets from
// the keylog, so it decrypts what it forwards (it knows exactly how many
// application bytes the client got in whole records) and can forge records
// the client will accept (a fatal alert) on the server's behalf.

import { createSecureContext, SecureContext, TLSSocket, TLSSocketOptions, SecureVersion } from 'tls';
import { createServer as createNetServer, Server as NetServer, Socket } from 'net';
import { Duplex } from 'stream';
import { once } from 'events';
import { readFileSync } from 'fs';
import { createCipheriv, createDecipheriv, createHmac } from 'crypto';
import type { Cert } from './pki';

export const RT_CCS = 20;
export const RT_ALERT = 21;
export const RT_HANDSHAKE = 22;
export const RT_APPDATA = 23;

export interface TlsRecord {
  /** order among the server's records on this connection, from 0 */
  index: number;
  type: number;
  /** the whole record, header included */
  bytes: Buffer;
  /** TLS 1.3: the decrypted inner type and content, when the wire could decrypt it */
  inner?: { type: number; data: Buffer };
  /** plaintext application bytes this record carries (0 for handshake, alerts, tickets) */
  appBytes: number;
}

/** What the wire does with one server record. */
export type RecordAction =
  | 'pass'
  | 'drop'
  /** reset the TCP connection instead of forwarding this record */
  | 'reset'
  /** end the TCP write side (FIN, no close_notify) instead of forwarding it */
  | 'fin'
  | { replace: Buffer }
  /** forward the first `bytes` bytes of the record, then reset or FIN */
  | { partial: number; then: 'reset' | 'fin' }
  /** forward the record one byte at a time, `ms` (or ms(i) for the i-th byte) apart */
  | { trickle: number | ((i: number) => number) };

export interface HostileOptions {
  leaf: Cert;
  /** default TLSv1.3 */
  maxVersion?: SecureVersion;
  minVersion?: SecureVersion;
  /** require a client certificate signed by this CA (TLS 1.3: a fatal alert after the client's handshake) */
  clientCa?: Cert;
  /** the server application, once its handshake is done */
  onSecure?: (tls: TLSSocket, conn: HostileConnection) => void;
  /** decides the fate of each server record; default 'pass' */
  onServerRecord?: (rec: TlsRecord, conn: HostileConnection) => RecordAction | Promise<RecordAction>;
  /** sees each client chunk before the server does; return false to swallow it */
  onClientData?: (chunk: Buffer, conn: HostileConnection) => boolean | void;
}

export interface HostileServer {
  port: number;
  /** connections in accept order */
  connections: HostileConnection[];
  /** resolves with the next connection */
  nextConnection(): Promise<HostileConnection>;
  close(): Promise<void>;
}

// ---- TLS 1.3 record protection (RFC 8446 section 5.2, 7.1), AES-128-GCM-SHA256 ----

function hkdfExpandLabel(secret: Buffer, label: string, length: number): Buffer {
  const full = Buffer.from('tls13 ' + label, 'ascii');
  const info = Buffer.concat([Buffer.from([length >> 8, length & 255, full.length]), full, Buffer.from([0])]);
  // One HMAC block is enough for every length used here (<= 32).
  return createHmac('sha256', secret).update(Buffer.concat([info, Buffer.from([1])])).digest().subarray(0, length);
}

class Protection {
  private readonly key: Buffer;
  private readonly iv: Buffer;
  seq = 0n;
  constructor(secret: Buffer) {
    this.key = hkdfExpandLabel(secret, 'key', 16);
    this.iv = hkdfExpandLabel(secret, 'iv', 12);
  }
  private nonce(seq: bigint): Buffer {
    const n = Buffer.from(this.iv);
    const s = Buffer.alloc(8);
    s.writeBigUInt64BE(seq);
    for (let i = 0; i < 8; i++) n[4 + i] ^= s[i];
    return n;
  }
  /** the inner type and content, or undefined if the tag does not match at the current seq */
  open(record: Buffer): { type: number; data: Buffer } | undefined {
    const header = record.subarray(0, 5);
    const body = record.subarray(5);
    if (body.length < 17) return undefined;
    try {
      const d = createDecipheriv('aes-128-gcm', this.key, this.nonce(this.seq));
      d.setAAD(header);
      d.setAuthTag(body.subarray(body.length - 16));
      const plain = Buffer.concat([d.update(body.subarray(0, body.length - 16)), d.final()]);
      let end = plain.length - 1;
      while (end >= 0 && plain[end] === 0) end--;
      if (end < 0) return undefined;
      this.seq++;
      return { type: plain[end], data: plain.subarray(0, end) };
    } catch {
      return undefined;
    }
  }
  seal(type: number, data: Buffer): Buffer {
    const inner = Buffer.concat([data, Buffer.from([type])]);
    const header = Buffer.from([RT_APPDATA, 3, 3, (inner.length + 16) >> 8, (inner.length + 16) & 255]);
    const c = createCipheriv('aes-128-gcm', this.key, this.nonce(this.seq));
    c.setAAD(header);
    const body = Buffer.concat([c.update(inner), c.final(), c.getAuthTag()]);
    this.seq++;
    return Buffer.concat([header, body]);
  }
}

export class HostileConnection {
  /** the client's TCP connection */
  readonly raw: Socket;
  /** the server's TLS socket */
  tls?: TLSSocket;
  /** application bytes the client was sent in whole records */
  appDelivered = 0;
  /** server records seen */
  records = 0;
  /** set once the wire cut the connection (reset or FIN) */
  cut: 'reset' | 'fin' | undefined;
  /** resolves once the client's side of the TCP connection is closed */
  readonly closed: Promise<void>;
  private stalled = false;
  private readonly wire: Duplex;
  private pending = Buffer.alloc(0);
  private queue: Promise<void> = Promise.resolve();
  private secrets = new Map<string, Buffer>();
  private protection?: Protection;
  private phase: 'plain' | 'handshake' | 'application' = 'plain';
  private tls13 = false;

  constructor(raw: Socket, private readonly opts: HostileOptions, context: SecureContext) {
    this.raw = raw;
    this.closed = new Promise((resolve) => raw.on('close', () => resolve()));
    raw.on('error', () => undefined);
    const self = this;
    this.wire = new Duplex({
      allowHalfOpen: true,
      read() {
        if (!self.stalled) raw.resume();
      },
      write(chunk: Buffer, _enc, callback) {
        self.queue = self.queue.then(() => self.fromServer(chunk)).then(() => callback(), (e) => callback(e));
      },
      final(callback) {
        // the server application ended (after its close_notify): FIN
        self.queue = self.queue.then(() => {
          if (!self.cut) raw.end();
          callback();
        });
      },
      destroy(err, callback) {
        callback(err);
      },
    });
    raw.on('data', (chunk: Buffer) => {
      if (this.stalled) return;
      if (this.opts.onClientData?.(chunk, this) === false) return;
      if (!this.wire.push(chunk)) raw.pause();
    });
    raw.on('end', () => this.wire.push(null));
    raw.on('close', () => this.wire.destroy());
    const tls = new TLSSocket(this.wire, {
      isServer: true,
      secureContext: context,
      requestCert: !!opts.clientCa,
      rejectUnauthorized: !!opts.clientCa,
    } as TLSSocketOptions);
    tls.on('error', () => undefined);
    tls.on('keylog', (line: Buffer) => this.keylog(line.toString('latin1')));
    tls.once('secure', () => {
      this.tls = tls;
      this.opts.onSecure?.(tls, this);
    });
    this.serverTls = tls;
  }

  /** the server's TLS socket from the start (tls is set once it is secure) */
  serverTls: TLSSocket;

  /** key material from the server's keylog */
  keylog(line: string): void {
    const [label, , secret] = line.trim().split(' ');
    if (label && secret) this.secrets.set(label, Buffer.from(secret, 'hex'));
  }

  /** Stop reading from the client, for good: its data piles up in the kernel. */
  stall(): void {
    this.stalled = true;
    this.raw.pause();
  }

  /** Reset the TCP connection once what was forwarded has left (RST). */
  async reset(): Promise<void> {
    if (this.cut) return;
    this.cut = 'reset';
    await this.flushed();
    this.raw.resetAndDestroy();
  }

  /** End the TCP write side with no close_notify. */
  fin(): void {
    if (this.cut) return;
    this.cut = 'fin';
    this.raw.end();
  }

  /** Send a forged TLS 1.3 record (inner type and content) under the server's current key. */
  forge(type: number, data: Buffer): Buffer {
    if (!this.protection || this.phase !== 'application') throw new Error('forge: no TLS 1.3 application key yet');
    return this.protection.seal(type, data);
  }

  /**
   * A forged record sent in place of the record being decided on (that one is
   * to be dropped): it takes that record's sequence number.
   */
  forgeInstead(type: number, data: Buffer): Buffer {
    if (!this.protection) throw new Error('forge: no TLS 1.3 key');
    this.protection.seq--;
    return this.forge(type, data);
  }

  /** Write bytes to the client, past the script. */
  send(bytes: Buffer): Promise<void> {
    return new Promise((resolve) => {
      if (this.cut || this.raw.destroyed) return resolve();
      this.raw.write(bytes, () => resolve());
    });
  }

  /**
   * Until everything written to the client is in the client's kernel: our
   * kernel's send queue for this connection (tx_queue in /proc/net/tcp, bytes
   * not yet acknowledged) is empty. A reset drops what is still queued on our
   * side, so only then is "delivered" exact. Gives up after 3 s (a client that
   * does not read).
   */
  async flushed(): Promise<void> {
    if (this.raw.writableLength > 0) await new Promise<void>((r) => this.raw.write(Buffer.alloc(0), () => r()));
    for (let i = 0; i < 300 && this.unacked() > 0; i++) await sleep(10);
  }

  /** Bytes our kernel holds for the client, not yet acknowledged by it. */
  unacked(): number {
    return this.socketQueue(this.raw.localPort, this.raw.remotePort, 0);
  }

  /**
   * Bytes in the client's kernel it has not read yet (its rx_queue in
   * /proc/net/tcp): a reset makes the kernel drop them, so a test that
   * means to reset after the client took everything waits for 0.
   */
  unreadByClient(): number {
    return this.socketQueue(this.raw.remotePort, this.raw.localPort, 1);
  }

  /** tx_queue (which 0) or rx_queue (1) of the 127.0.0.1 socket from `localPort` to `remotePort`. */
  private socketQueue(localPort: number | undefined, remotePort: number | undefined, which: 0 | 1): number {
    const hex = (port: number | undefined): string => `0100007F:${(port ?? 0).toString(16).toUpperCase().padStart(4, '0')}`;
    const local = hex(localPort);
    const remote = hex(remotePort);
    try {
      for (const line of readFileSync('/proc/net/tcp', 'latin1').split('\n')) {
        const f = line.trim().split(/\s+/);
        if (f[1] === local && f[2] === remote) return parseInt(f[4].split(':')[which], 16);
      }
    } catch {
      // no /proc: fall back to a pause
    }
    return 0;
  }

  private async fromServer(chunk: Buffer): Promise<void> {
    this.pending = Buffer.concat([this.pending, chunk]);
    while (this.pending.length >= 5) {
      const length = this.pending.readUInt16BE(3);
      if (this.pending.length < 5 + length) break;
      const bytes = this.pending.subarray(0, 5 + length);
      this.pending = this.pending.subarray(5 + length);
      await this.onRecord(bytes);
    }
  }

  private classify(bytes: Buffer): TlsRecord {
    const rec: TlsRecord = { index: this.records++, type: bytes[0], bytes, appBytes: 0 };
    if (rec.type === RT_HANDSHAKE && this.phase === 'plain' && bytes[5] === 2) {
      // ServerHello: TLS 1.3 if it carries supported_versions = 0x0304
      this.tls13 = bytes.includes(Buffer.from([0x00, 0x2b, 0x00, 0x02, 0x03, 0x04]));
      if (this.tls13) this.phase = 'handshake';
    }
    if (rec.type !== RT_APPDATA) return rec;
    if (!this.tls13) {
      // TLS 1.2 with AES-GCM: 8 bytes of explicit nonce and a 16-byte tag
      rec.appBytes = Math.max(0, bytes.length - 5 - 24);
      return rec;
    }
    if (this.phase === 'handshake') {
      this.protection ??= this.keyFor('SERVER_HANDSHAKE_TRAFFIC_SECRET');
      rec.inner = this.protection?.open(bytes);
      if (!rec.inner) {
        this.phase = 'application';
        this.protection = this.keyFor('SERVER_TRAFFIC_SECRET_0');
      }
    }
    if (this.phase === 'application') rec.inner ??= this.protection?.open(bytes);
    if (rec.inner?.type === RT_APPDATA) rec.appBytes = rec.inner.data.length;
    return rec;
  }

  private keyFor(label: string): Protection | undefined {
    const secret = this.secrets.get(label);
    return secret ? new Protection(secret) : undefined;
  }

  private async onRecord(bytes: Buffer): Promise<void> {
    const rec = this.classify(bytes);
    if (this.cut) return;
    const action = (await this.opts.onServerRecord?.(rec, this)) ?? 'pass';
    if (this.cut) return;
    if (action === 'pass') {
      await this.send(bytes);
      this.appDelivered += rec.appBytes;
    } else if (action === 'drop') {
      return;
    } else if (action === 'reset') {
      await this.reset();
    } else if (action === 'fin') {
      this.fin();
    } else if ('replace' in action) {
      await this.send(action.replace);
    } else if ('partial' in action) {
      await this.send(bytes.subarray(0, action.partial));
      if (action.then === 'reset') await this.reset();
      else {
        await this.flushed();
        this.fin();
      }
    } else if ('trickle' in action) {
      for (let i = 0; i < bytes.length && !this.cut && !this.raw.destroyed; i++) {
        await this.send(bytes.subarray(i, i + 1));
        await sleep(typeof action.trickle === 'number' ? action.trickle : action.trickle(i));
      }
      this.appDelivered += rec.appBytes;
    }
  }
}

export async function startHostileServer(opts: HostileOptions): Promise<HostileServer> {
  const context = createSecureContext({
    key: opts.leaf.keyPem,
    cert: opts.leaf.certPem,
    minVersion: opts.minVersion ?? 'TLSv1.2',
    maxVersion: opts.maxVersion ?? 'TLSv1.3',
    // Fixed suites, so that the wire can decrypt (1.3) or size (1.2) what it forwards.
    ciphers: 'TLS_AES_128_GCM_SHA256:ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256',
    ca: opts.clientCa ? [opts.clientCa.certPem] : undefined,
  });
  const connections: HostileConnection[] = [];
  const waiters: ((c: HostileConnection) => void)[] = [];
  const netServer: NetServer = createNetServer({ allowHalfOpen: true }, (raw) => {
    raw.setNoDelay(true);
    const conn = new HostileConnection(raw, opts, context);
    connections.push(conn);
    waiters.shift()?.(conn);
  });
  netServer.listen(0, '127.0.0.1');
  await once(netServer, 'listening');
  const port = (netServer.address() as { port: number }).port;
  return {
    port,
    connections,
    nextConnection: () => new Promise((resolve) => waiters.push(resolve)),
    close: () =>
      new Promise((resolve) => {
        for (const c of connections) c.raw.destroy();
        netServer.close(() => resolve());
      }),
  };
}

/** A plaintext TLS alert record (as sent before encryption starts). */
export function plainAlert(level: number, description: number): Buffer {
  return Buffer.from([RT_ALERT, 3, 3, 0, 2, level, description]);
}

// ---- what every fault test asserts about how the program ended ----

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export interface ExpectedEnd {
  code: number;
  /** the cause after "s6-tlsc-io: fatal: ", or null for a normal end (no fatal line) */
  fatal: RegExp | null;
  /** one warning line expected (after "s6-tlsc-io: warning: "); none if absent */
  warning?: RegExp;
}

/**
 * Exit code, exactly one skarnet-style fatal line (or none), no stack trace.
 * No time limit here: a loaded machine can make any run slow. A hang is
 * caught by the harness's guard (waitFor), and the tests of timers (-K, the
 * give-up delay) check that they waited at least their time.
 */
export function expectEnd(
  r: { code: number | null; signal: NodeJS.Signals | null; stderr: string; elapsed: number },
  want: ExpectedEnd,
): void {
  const lines = r.stderr.split('\n').filter((l) => l !== '');
  const context = `stderr: ${JSON.stringify(r.stderr)}`;
  if (r.signal !== null) throw new Error(`killed by ${r.signal}; ${context}`);
  if (r.code !== want.code) throw new Error(`exit ${r.code}, expected ${want.code}; ${context}`);
  for (const l of lines) {
    if (!/^s6-tlsc-io: (fatal|warning|info|debug): \S/.test(l)) throw new Error(`not a one-line message (stack trace?): ${context}`);
  }
  const fatals = lines.filter((l) => l.startsWith('s6-tlsc-io: fatal: ')).map((l) => l.slice('s6-tlsc-io: fatal: '.length));
  if (want.fatal === null) {
    if (fatals.length) throw new Error(`a fatal line for a normal end; ${context}`);
  } else {
    if (fatals.length !== 1) throw new Error(`${fatals.length} fatal lines, expected one; ${context}`);
    if (!want.fatal.test(fatals[0])) throw new Error(`fatal line does not match ${want.fatal}; ${context}`);
  }
  const warnings = lines.filter((l) => l.startsWith('s6-tlsc-io: warning: ')).map((l) => l.slice('s6-tlsc-io: warning: '.length));
  if (want.warning) {
    if (warnings.length !== 1 || !want.warning.test(warnings[0])) throw new Error(`expected one warning matching ${want.warning}; ${context}`);
  } else if (warnings.length) throw new Error(`unexpected warning; ${context}`);
}

/** Resident set size of a live process in KiB (0 once it is gone). */
export function rssKiB(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}
