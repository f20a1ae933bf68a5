// The fatal alert a client owes a server whose certificate it refuses
// (RFC 8446 6.2, RFC 5246 7.2.2). Node's TLS client lets OpenSSL finish the
// handshake whatever the chain, and verifies afterwards in JavaScript; when
// that fails it destroys the connection and the server only sees an end of
// stream. No public Node or OpenSSL path sends an alert then, so the record
// is written here: sealed with the client's write key of the finished
// handshake, sent on the network before the connection closes.
//
// The key comes from Node's 'keylog' event (the client application traffic
// secret in TLS 1.3, the master secret in TLS 1.2), the suite and the server
// random from the server's first handshake record as the link saw it. The
// secret is kept only until the session is verified or refused, then zeroed.
// Only the AEAD suites are handled (every suite of TLS 1.3 that OpenSSL
// offers by default, and the GCM and ChaCha20-Poly1305 suites of TLS 1.2);
// with any other the connection closes without an alert, as before.

import { createCipheriv, createHmac, CipherGCMTypes } from 'crypto';
import type { TLSSocket } from 'tls';

/** Alert descriptions (RFC 8446 6, RFC 5246 7.2). */
export const ALERT = {
  handshake_failure: 40,
  bad_certificate: 42,
  unsupported_certificate: 43,
  certificate_revoked: 44,
  certificate_expired: 45,
  certificate_unknown: 46,
  unknown_ca: 48,
  decrypt_error: 51,
} as const;

// OpenSSL's own choice for each of its verification errors (its table from
// X509_V_ERR_* to an alert, ssl_x509err2alert), keyed by the code Node gives.
const forVerifyCode: Record<string, number> = {
  CERT_HAS_EXPIRED: ALERT.certificate_expired,
  CRL_HAS_EXPIRED: ALERT.certificate_expired,
  CERT_NOT_YET_VALID: ALERT.bad_certificate,
  CRL_NOT_YET_VALID: ALERT.bad_certificate,
  CERT_REVOKED: ALERT.certificate_revoked,
  CERT_SIGNATURE_FAILURE: ALERT.decrypt_error,
  CRL_SIGNATURE_FAILURE: ALERT.decrypt_error,
  UNABLE_TO_DECRYPT_CERT_SIGNATURE: ALERT.decrypt_error,
  UNABLE_TO_GET_ISSUER_CERT: ALERT.unknown_ca,
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: ALERT.unknown_ca,
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: ALERT.unknown_ca,
  DEPTH_ZERO_SELF_SIGNED_CERT: ALERT.unknown_ca,
  SELF_SIGNED_CERT_IN_CHAIN: ALERT.unknown_ca,
  INVALID_CA: ALERT.unknown_ca,
  PATH_LENGTH_EXCEEDED: ALERT.unknown_ca,
  CERT_CHAIN_TOO_LONG: ALERT.unknown_ca,
  CERT_UNTRUSTED: ALERT.bad_certificate,
  CERT_REJECTED: ALERT.bad_certificate,
  INVALID_PURPOSE: ALERT.unsupported_certificate,
  ERROR_IN_CERT_NOT_BEFORE_FIELD: ALERT.bad_certificate,
  ERROR_IN_CERT_NOT_AFTER_FIELD: ALERT.bad_certificate,
  UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY: ALERT.bad_certificate,
  // Ours (src/trust/verify.ts): a name, a pin or a policy minimum the certificate
  // does not meet; OpenSSL says bad_certificate for its own name and key checks.
  HOSTNAME_MISMATCH: ALERT.bad_certificate,
  VERIFICATION_FAILURE: ALERT.bad_certificate,
  // OpenSSL's verification errors Node has no name for.
  UNSPECIFIED: ALERT.bad_certificate,
};

/** The alert for a failed verification, or undefined if `err` is not one. */
export function alertFor(err: unknown): number | undefined {
  const code = (err as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' ? forVerifyCode[code] : undefined;
}

interface Aead {
  cipher: 'aes-128-gcm' | 'aes-256-gcm' | 'chacha20-poly1305';
  keyLength: number;
  hash: 'sha256' | 'sha384';
}
const AES128: Aead = { cipher: 'aes-128-gcm', keyLength: 16, hash: 'sha256' };
const AES256: Aead = { cipher: 'aes-256-gcm', keyLength: 32, hash: 'sha384' };
const CHACHA: Aead = { cipher: 'chacha20-poly1305', keyLength: 32, hash: 'sha256' };

// By IANA number: TLS 1.3's suites, then TLS 1.2's AEAD suites.
const suites: Record<number, Aead> = {
  0x1301: AES128,
  0x1302: AES256,
  0x1303: CHACHA,
  0xc02f: AES128, 0xc02b: AES128, 0x009e: AES128, 0x009c: AES128,
  0xc030: AES256, 0xc02c: AES256, 0x009f: AES256, 0x009d: AES256,
  0xcca8: CHACHA, 0xcca9: CHACHA, 0xccaa: CHACHA,
};

/** What the server's first handshake message (ServerHello) says that the alert needs. */
export interface ServerHello {
  random: Buffer;
  suite: number;
}

/**
 * Reads the ServerHello's random and cipher suite from the first bytes the
 * server sent (its handshake records, whatever their fragmentation), or
 * undefined if these bytes do not hold them.
 */
export function parseServerHello(raw: Buffer): ServerHello | undefined {
  const handshake: Buffer[] = [];
  for (let at = 0; at + 5 <= raw.length; ) {
    const length = raw.readUInt16BE(at + 3);
    if (raw[at] !== 22) break;
    handshake.push(raw.subarray(at + 5, Math.min(raw.length, at + 5 + length)));
    at += 5 + length;
  }
  const message = Buffer.concat(handshake);
  // type(1) length(3) version(2) random(32) session_id<0..32> cipher_suite(2)
  if (message.length < 39 || message[0] !== 2) return undefined;
  const sessionIdLength = message[38];
  const suiteAt = 39 + sessionIdLength;
  if (sessionIdLength > 32 || message.length < suiteAt + 2) return undefined;
  return { random: Buffer.from(message.subarray(6, 38)), suite: message.readUInt16BE(suiteAt) };
}

/** What a key-log line says about the client's write keys. */
export type KeyLogSecret =
  | { tls: '1.3'; stage: 'handshake' | 'application'; secret: Buffer }
  | { tls: '1.2'; clientRandom: Buffer; master: Buffer };

/** Keeps what a key-log line says about the client's write keys, nothing else. */
export function readKeyLogLine(line: Buffer): KeyLogSecret | undefined {
  const [label, clientRandom, secret] = line.toString('latin1').trim().split(' ');
  if (!clientRandom || !secret) return undefined;
  if (label === 'CLIENT_HANDSHAKE_TRAFFIC_SECRET') return { tls: '1.3', stage: 'handshake', secret: Buffer.from(secret, 'hex') };
  if (label === 'CLIENT_TRAFFIC_SECRET_0') return { tls: '1.3', stage: 'application', secret: Buffer.from(secret, 'hex') };
  if (label === 'CLIENT_RANDOM') return { tls: '1.2', clientRandom: Buffer.from(clientRandom, 'hex'), master: Buffer.from(secret, 'hex') };
  return undefined;
}

/**
 * Counts the records the client has put on the network, by type, across
 * writes that cut records anywhere: which key and sequence number the
 * server expects next depends on whether the client's last flight went out.
 */
export class OutgoingRecords {
  /** records of each content type, complete or not */
  readonly count: Record<number, number> = {};
  /** protected records after the client's ChangeCipherSpec (TLS 1.2) */
  afterChangeCipherSpec = 0;
  private headerBytes: number[] = [];
  private bodyLeft = 0;

  feed(chunk: Buffer): void {
    for (let at = 0; at < chunk.length; ) {
      if (this.bodyLeft > 0) {
        const take = Math.min(this.bodyLeft, chunk.length - at);
        this.bodyLeft -= take;
        at += take;
        continue;
      }
      this.headerBytes.push(chunk[at++]);
      if (this.headerBytes.length < 5) continue;
      const [type, , , high, low] = this.headerBytes;
      this.headerBytes = [];
      this.bodyLeft = (high << 8) | low;
      if (this.count[20] && type !== 20) this.afterChangeCipherSpec++;
      this.count[type] = (this.count[type] ?? 0) + 1;
    }
  }
}

function hkdfExpand(hash: string, secret: Buffer, info: Buffer, length: number): Buffer {
  const out: Buffer[] = [];
  let previous = Buffer.alloc(0);
  for (let i = 1, total = 0; total < length; i++) {
    previous = createHmac(hash, secret).update(previous).update(info).update(Buffer.from([i])).digest();
    out.push(previous);
    total += previous.length;
  }
  return Buffer.concat(out).subarray(0, length);
}

/** RFC 8446 7.1: HKDF-Expand-Label with an empty context. */
function expandLabel(hash: string, secret: Buffer, label: string, length: number): Buffer {
  const name = Buffer.from(`tls13 ${label}`, 'latin1');
  const info = Buffer.concat([Buffer.from([length >> 8, length & 0xff, name.length]), name, Buffer.from([0])]);
  return hkdfExpand(hash, secret, info, length);
}

/** RFC 5246 5: the TLS 1.2 PRF, P_hash of the suite's hash. */
function prf12(hash: string, secret: Buffer, label: string, seed: Buffer, length: number): Buffer {
  const labelSeed = Buffer.concat([Buffer.from(label, 'latin1'), seed]);
  const out: Buffer[] = [];
  let a = labelSeed;
  for (let total = 0; total < length; ) {
    a = createHmac(hash, secret).update(a).digest();
    const block = createHmac(hash, secret).update(a).update(labelSeed).digest();
    out.push(block);
    total += block.length;
  }
  return Buffer.concat(out).subarray(0, length);
}

function seal(aead: Aead, key: Buffer, nonce: Buffer, aad: Buffer, plaintext: Buffer): Buffer {
  const cipher = createCipheriv(aead.cipher as CipherGCMTypes, key, nonce, { authTagLength: 16 });
  cipher.setAAD(aad, { plaintextLength: plaintext.length });
  const sealed = Buffer.concat([cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]);
  return sealed;
}

function sequenceNonce(iv: Buffer, sequence: number): Buffer {
  const nonce = Buffer.from(iv);
  const seq = Buffer.alloc(8);
  seq.writeBigUInt64BE(BigInt(sequence));
  for (let i = 0; i < 8; i++) nonce[nonce.length - 8 + i] ^= seq[i];
  return nonce;
}

function recordHeader(type: number, length: number): Buffer {
  return Buffer.from([type, 3, 3, length >> 8, length & 0xff]);
}

/** The client secrets a handshake has logged so far. */
export interface ClientSecrets {
  handshake?: Buffer;
  application?: Buffer;
  tls12?: { clientRandom: Buffer; master: Buffer };
}

/**
 * The record carrying a fatal alert, sealed as the next record the server
 * expects from the client. TLS 1.3: while the client's last flight has not
 * gone out (Node refuses a certificate before it hands that flight to the
 * network), the server still reads under the client handshake traffic key,
 * sequence 0; after it, under the application traffic key, sequence 0
 * (RFC 8446 5.2, 5.3, 7.3). TLS 1.2: after the client's Finished, under the
 * client write key, the sequence number after that Finished (RFC 5246
 * 6.2.3.3, RFC 5288 3, RFC 7905 2); before its ChangeCipherSpec, in the
 * clear. Undefined for a suite not handled here, or a state not foreseen.
 */
export function sealAlert(secrets: ClientSecrets, hello: ServerHello, sent: OutgoingRecords, description: number): Buffer | undefined {
  const aead = suites[hello.suite];
  if (!aead) return undefined;
  const alert = Buffer.from([2, description]);
  const keys: Buffer[] = [];
  try {
    if (hello.suite >> 8 === 0x13) {
      const flightSent = (sent.count[23] ?? 0) > 0;
      const secret = flightSent ? secrets.application : secrets.handshake;
      if (!secret) return undefined;
      const key = expandLabel(aead.hash, secret, 'key', aead.keyLength);
      const iv = expandLabel(aead.hash, secret, 'iv', 12);
      keys.push(key, iv);
      const inner = Buffer.concat([alert, Buffer.from([21])]);
      const header = recordHeader(23, inner.length + 16);
      return Buffer.concat([header, seal(aead, key, sequenceNonce(iv, 0), header, inner)]);
    }
    if (!sent.count[20]) return Buffer.concat([recordHeader(21, alert.length), alert]);
    const tls12 = secrets.tls12;
    if (!tls12) return undefined;
    const sequenceNumber = sent.afterChangeCipherSpec;
    const ivLength = aead === CHACHA ? 12 : 4;
    const block = prf12(aead.hash, tls12.master, 'key expansion', Buffer.concat([hello.random, tls12.clientRandom]), 2 * aead.keyLength + 2 * ivLength);
    const key = block.subarray(0, aead.keyLength);
    const iv = block.subarray(2 * aead.keyLength, 2 * aead.keyLength + ivLength);
    keys.push(block);
    const sequence = Buffer.alloc(8);
    sequence.writeBigUInt64BE(BigInt(sequenceNumber));
    const aad = Buffer.concat([sequence, Buffer.from([21, 3, 3, 0, alert.length])]);
    if (aead === CHACHA) {
      const sealed = seal(aead, key, sequenceNonce(iv, sequenceNumber), aad, alert);
      return Buffer.concat([recordHeader(21, sealed.length), sealed]);
    }
    // GCM: a 4-byte salt from the key block, then the 8-byte explicit part
    // sent in the record; like OpenSSL, the sequence number.
    const sealed = seal(aead, key, Buffer.concat([iv, sequence]), aad, alert);
    return Buffer.concat([recordHeader(21, 8 + sealed.length), sequence, sealed]);
  } finally {
    for (const k of keys) k.fill(0);
  }
}

/** What AlertKeys needs of the network link (src/engine/transport.ts). */
export interface AlertLink {
  /** sees every chunk TLS writes to the network, while set */
  watchWrites: ((chunk: Buffer) => void) | undefined;
  /** while true, a destroyed link leaves the network writable for one more turn */
  holdWriteSide: boolean;
  serverHello(): ServerHello | undefined;
  sendRaw(record: Buffer): void;
}

/**
 * Watches a client TLS socket and its link for what an alert needs, from
 * before the first byte. `forget` once the certificate is accepted (the
 * secrets are zeroed, the watching stops); `refuse` when it is refused.
 */
export class AlertKeys {
  private secrets: ClientSecrets = {};
  private readonly sent = new OutgoingRecords();
  private readonly onKeyLog = (line: Buffer): void => {
    const secret = readKeyLogLine(line);
    if (!secret) return;
    if (secret.tls === '1.2') {
      this.secrets.tls12?.master.fill(0);
      this.secrets.tls12 = { clientRandom: secret.clientRandom, master: secret.master };
    } else {
      this.secrets[secret.stage]?.fill(0);
      this.secrets[secret.stage] = secret.secret;
    }
  };

  constructor(
    private readonly tls: TLSSocket,
    private readonly link: AlertLink,
  ) {
    tls.on('keylog', this.onKeyLog);
    // A handshake that fails any other way (after 'error', if any) keeps nothing either.
    tls.once('close', () => this.forget());
    link.watchWrites = (chunk) => this.sent.feed(chunk);
    link.holdWriteSide = true;
  }

  /** Sends the alert that answers `err`, if it is a refused certificate and the alert can be made. */
  refuse(err: unknown): void {
    try {
      const description = alertFor(err);
      const hello = this.link.serverHello();
      if (description === undefined || !hello) return;
      const record = sealAlert(this.secrets, hello, this.sent, description);
      if (record) this.link.sendRaw(record);
    } catch {
      // A courtesy to the server: failing to make it must not change how the
      // refusal itself is reported.
    } finally {
      this.forget();
    }
  }

  /** Drops the secrets and stops watching. */
  forget(): void {
    this.tls.off('keylog', this.onKeyLog);
    this.link.watchWrites = undefined;
    this.link.holdWriteSide = false;
    this.secrets.handshake?.fill(0);
    this.secrets.application?.fill(0);
    this.secrets.tls12?.master.fill(0);
    this.secrets = {};
  }
}
