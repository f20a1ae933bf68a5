// Every use of something Node does not document, in one place. Each entry
// says why there is no public way, which Node versions it was checked on,
// and test/node-internals.test.ts fails loudly when a Node release changes
// it. Checked on Node 20.20 (OpenSSL 3.0) and 26.12 (OpenSSL 3.5).

import type { SecureContext, Server as TlsServer } from 'tls';
import type { Socket } from 'net';
import type { Duplex, Readable } from 'stream';

/**
 * The descriptor under a net.Socket (`_handle.fd`). Needed to ask the kernel
 * how the connection ended (see src/engine/transport.ts probeEnd): after a reset,
 * libuv may report an EOF without reading the ECONNRESET that is still
 * pending on the socket. Node has no public accessor. Used only for sockets
 * the library is handed; the programs know their descriptor numbers.
 */
export function socketFd(socket: Socket): number | undefined {
  const fd = (socket as unknown as { _handle?: { fd?: unknown } })._handle?.fd;
  return typeof fd === 'number' && fd >= 0 ? fd : undefined;
}

/**
 * Node destroys a socket whose write fails, and with it the read side and
 * whatever the kernel still holds for it: the answer a server sent before
 * resetting the connection. When one net.Socket carries both directions
 * (a socket handed to the library, s6-tlsclient's own connection), write
 * errors are handed to `onError` instead and the write completes, so the
 * read side can be read to its end; later writes fail the same way. It wraps
 * net.Socket's `_writeGeneric`. (Descriptor pairs avoid it: fdr and fdw get
 * one stream each, and only the writing one dies.) Returns false where the
 * method is missing: errors then take Node's usual path, which the tunnel
 * also handles, losing only what the kernel held.
 */
export function divertWriteErrors(socket: Duplex, onError: (err: Error) => void): boolean {
  type WriteGeneric = (writev: boolean, data: unknown, encoding: string, cb: (err?: Error | null) => void) => unknown;
  const target = socket as unknown as { _writeGeneric?: WriteGeneric };
  const original = target._writeGeneric;
  if (typeof original !== 'function') return false;
  target._writeGeneric = function (this: unknown, writev, data, encoding, cb) {
    return original.call(this, writev, data, encoding, (err?: Error | null) => {
      if (err && (err as NodeJS.ErrnoException).syscall === 'write') {
        onError(err);
        return cb();
      }
      cb(err);
    });
  };
  return true;
}

/**
 * Calls `onEof` the moment a stream is handed its end of data, before any
 * buffered data is read and 'end' emitted. The tunnel needs that moment on the
 * TLS socket: a close_notify makes TLS push its EOF before the raw
 * transport's own end is consumed, and nothing else tells a close_notify
 * from a bare EOF (Node 20 has no public "ended" flag; `readableEnded` only
 * says 'end' was emitted, which backpressure may delay). Node's stream
 * plumbing ends a socket by calling its `push(null)`; the hook wraps the
 * instance's push.
 */
export function onEndOfData(stream: Readable, onEof: () => void): void {
  const push = stream.push;
  stream.push = function (this: Readable, chunk: unknown, encoding?: BufferEncoding): boolean {
    if (chunk === null) onEof();
    return push.call(this, chunk, encoding);
  };
}

// ---------------------------------------------------------------- trust anchors
//
// Not private APIs: documented switches (--use-openssl-ca, SSL_CERT_DIR,
// allowPartialTrustChain, `ca` read with OpenSSL's aux data) whose finer
// behaviour the program depends on, checked in test/trust-internals.test.ts.

/*
 * The lazy CADIR store (checked on Node 20.20 / OpenSSL 3.0 and Node 26.12 /
 * OpenSSL 3.5).
 *
 * Why: handing every anchor of a big CADIR (/etc/ssl/certs, ~145 roots) to
 * Node as `ca` makes OpenSSL parse each one into the context's store: ~19 ms
 * per run on Node 20, ~7 ms on Node 26, for a connection that needs one of
 * them. OpenSSL can instead look anchors up by subject hash in a hashed
 * directory, when a chain needs them (what the C original does with CADIR).
 * Node offers that in one way only: its process-wide default store under
 * --use-openssl-ca is OpenSSL's default paths, X509_STORE_set_default_paths,
 * which reads SSL_CERT_FILE (eagerly) and SSL_CERT_DIR (lazily) from the
 * environment when Node first builds the store.
 *
 * What we rely on:
 *  - under --use-openssl-ca, a context made without `ca` verifies with that
 *    default store, which holds nothing but SSL_CERT_FILE's certificates, the
 *    ones found in SSL_CERT_DIR, and NODE_EXTRA_CA_CERTS (not Node's bundled
 *    roots);
 *  - the directory is read when a chain is verified, not before;
 *  - `allowPartialTrustChain` on such a context gives it a store of its own
 *    made the same way (so intermediates in CADIR can be anchors);
 *  - a context made with `ca` has its own store and never consults the
 *    default one.
 *
 * How the lookup differs between OpenSSL versions, measured: 3.0 (Node 20,
 * 22) also finds names in upper case, `.rN` names, DER files and files
 * after a gap in the numbering; 3.5 (Node 24, 26) finds only hhhhhhhh.0,
 * .1, ... up to the first missing number, PEM only. Our CADIR rule is the
 * narrow one, and credentials.ts uses the lazy store only for a directory
 * where both agree with it.
 *
 * Nothing rewrites the environment at run time: the store is exactly CADIR
 * only when the process was started that way (bin/s6-tlsc-io's launcher
 * passes SSL_CERT_FILE=/dev/null and SSL_CERT_DIR=$CADIR), and only the
 * program entries ask for it; library calls always get their own store.
 */

/** `allowPartialTrustChain` exists from Node 20.18 and 22.9 (not in 21); older versions ignore the option. */
function hasPartialTrustChain(): boolean {
  const [major, minor] = process.versions.node.split('.').map(Number);
  return major >= 23 || (major === 22 && minor >= 9) || (major === 20 && minor >= 18);
}

/** The directory Node's default store looks anchors up in, lazily, and nothing else; undefined when it is not known to be so. */
export function processStoreAnchorDir(): string | undefined {
  // Without partial chains an intermediate in CADIR would be no anchor there.
  if (!hasPartialTrustChain()) return undefined;
  if (!process.execArgv.includes('--use-openssl-ca')) return undefined;
  // Read by Node at start-up into the default store.
  if (process.env.NODE_EXTRA_CA_CERTS !== undefined) return undefined;
  if (process.env.SSL_CERT_FILE !== '/dev/null') return undefined;
  const dir = process.env.SSL_CERT_DIR;
  // OpenSSL splits SSL_CERT_DIR at ':' into several directories.
  if (!dir || dir.includes(':')) return undefined;
  return dir;
}

/*
 * Intermediate CAs as anchors, eager path (checked on Node 20.20 and 26.12).
 * OpenSSL ends a chain only at a self-signed certificate unless the anchor
 * carries an explicit trust setting. Node reads `ca` with
 * PEM_read_bio_X509_AUX, so an anchor handed over as a PEM "TRUSTED
 * CERTIFICATE" whose auxiliary data trusts it for serverAuth (the bytes
 * `openssl x509 -addtrust serverAuth` appends, a documented OpenSSL format)
 * is accepted where it stands, and everything below it is still verified.
 * This is preferred to Node's own `allowPartialTrustChain` (Node >= 20.18)
 * for `ca` because it keeps the trust settings of anchors that come as
 * TRUSTED CERTIFICATEs already (a bundle that trusts a CA for e-mail only
 * must not make it a server anchor), which a partial-chain flag would
 * override.
 */
export const SERVER_AUTH_TRUST = Buffer.from('300c300a06082b06010505070301', 'hex');
/** The same trust for clientAuth: the anchors a server verifies client certificates with. */
export const CLIENT_AUTH_TRUST = Buffer.from('300c300a06082b06010505070302', 'hex');

/**
 * A minor garbage collection, run by the tunnel every MiB it moves. Why:
 * every read and every TLS record is a fresh Buffer whose memory lives
 * outside V8's heap, and V8 collects them only once such memory has grown by
 * about 64 MiB, so a bulk transfer would hold ~45 MiB of dead buffers per
 * process (test/memory.test.ts: a 64 MiB download peaked at floor + 44 MiB
 * without, + 19 with; a minor GC costs ~0.5 ms). V8's `gc` is reached at the
 * first need by turning on --expose-gc at run time (v8.setFlagsFromString,
 * then a new context, where V8 installs it): on the command line the flag
 * costs every connection 5-10 ms, since V8 then refuses the code cache of
 * Node's own modules. The options object is V8's (`type: 'minor'`: a
 * scavenge, not a full collection). Where none of this works, a no-op.
 */
export function minorGc(): () => void {
  let gc = (globalThis as { gc?: GcFunction }).gc;
  return () => {
    if (gc === undefined) gc = exposeGc();
    gc?.({ type: 'minor' });
  };
}

type GcFunction = (options?: { type: string }) => void;

function exposeGc(): GcFunction | undefined {
  try {
    // Loaded here, at the first MiB: short connections never pay for them.
    require('v8').setFlagsFromString('--expose-gc');
    const gc = require('vm').runInNewContext('gc') as unknown;
    return typeof gc === 'function' ? (gc as GcFunction) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Stops a socket reading (`_handle.readStop()`) before the event loop has
 * read anything. child_process starts reading the parent's end of every
 * 'pipe' above stdin at once, with no option to say otherwise; s6-ucspitlsc
 * run by root with TLS_UID/TLS_GID hands its end of prog's SSLWRITEFD
 * channel to the engine child after prog has started, and bytes read here
 * meanwhile would never reach the engine. Called synchronously right after
 * the spawn, when libuv has only asked epoll for the descriptor. Returns
 * false where the method is missing (then nothing is stopped).
 */
export function stopReading(socket: Socket): boolean {
  const handle = (socket as unknown as { _handle?: { readStop?: () => number; reading?: boolean } })._handle;
  if (!handle || typeof handle.readStop !== 'function') return false;
  handle.reading = false;
  return handle.readStop() === 0;
}

/**
 * Makes the descriptor under a socket blocking again (`_handle.setBlocking`,
 * libuv's uv_stream_set_blocking). The ends of the socket pairs spawn makes
 * are non-blocking on this side; when root drops privileges, s6-tlsc hands
 * such ends (the engine child's cleartext channels) to prog, which shares
 * their open file description and would get EAGAIN where a program expects a
 * blocking read, as from the pipes of the C tools. Node has no public
 * fcntl. Called just before prog's spawn; this process only closes its
 * copies afterwards. Returns false where the method is missing.
 */
export function makeBlocking(socket: Socket): boolean {
  const handle = (socket as unknown as { _handle?: { setBlocking?: (on: boolean) => number } })._handle;
  if (!handle || typeof handle.setBlocking !== 'function') return false;
  return handle.setBlocking(true) === 0;
}

/**
 * Makes a tls.Server hand every connection it accepts the context given
 * (`_sharedCreds`: what Node's connection listener passes each new server
 * TLSSocket), instead of the one it built from its own options. s6-tlsserver
 * gives each connection a tls.Server of its own (the only public way to have
 * Node verify a client certificate on a JS stream and say which connection
 * it belongs to); with a context each, every idle connection held ~31 KiB
 * more (an SSL_CTX with its key and chain) and cost a context's build. A
 * public option (`secureContext`) exists for TLSSocket, not for tls.Server.
 * Returns false where the property is missing (the caller then builds the
 * server with its full options).
 */
export function shareServerContext(server: TlsServer, context: SecureContext): boolean {
  const holder = server as unknown as { _sharedCreds?: unknown };
  if (typeof holder._sharedCreds !== 'object' || holder._sharedCreds === null) return false;
  holder._sharedCreds = context;
  return true;
}
