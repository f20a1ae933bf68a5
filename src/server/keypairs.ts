// The server's key pairs and the client-certificate anchors, read once
// before the privilege drop, as TLS contexts: the default one (KEYFILE and
// CERTFILE, or none at SNI level 2) and one per KEYFILE:name/CERTFILE:name
// pair, chosen by the client's SNI.

import { createHash } from 'crypto';
import { createSecureContext, SecureContext, SecureContextOptions } from 'tls';
import { EXIT_CONFIG, FatalError, oneLine } from '../base/errors';
import { loadCertificateChain, loadPrivateKey, loadTrustAnchors } from '../trust/credentials';
import { contextSettings } from '../trust/tls-settings';
import type { ServerRole } from '../engine/tunnel';
import type { KeyPairFiles, ServerConfig } from './config';

/**
 * The session id context of the one context every connection shares: OpenSSL
 * refuses to resume a session without one when client certificates are
 * asked for. As Node's own servers set it: from the command line.
 */
const SESSION_ID_CONTEXT = createHash('sha1').update(process.argv.join(' ')).digest('hex').slice(0, 32);

function readPair(files: KeyPairFiles): { cert: string; key: string } {
  return { cert: loadCertificateChain(files.certFile), key: loadPrivateKey(files.keyFile) };
}

/** A context for a pair read already: a key that does not match its chain is exit 96, before any byte. */
function pairContext(options: SecureContextOptions, files: KeyPairFiles, label: string): SecureContext {
  try {
    return createSecureContext(options);
  } catch (err) {
    if (err instanceof FatalError) throw err;
    throw new FatalError(EXIT_CONFIG, `unable to use the key pair ${label} (${files.certFile}, ${files.keyFile}): ${oneLine(err instanceof Error ? err.message : String(err))}`);
  }
}

/**
 * The server's side of the handshake from its configuration. A name matches
 * a pair of the same name, else a `*.` pair for its parent (one label only).
 * At SNI level 2 and more, a client that names no pair (or sends no SNI) gets
 * a context with no certificate at all: OpenSSL then fails the handshake
 * with an alert, which is the refusal the client sees.
 */
export function serverRole(config: ServerConfig): ServerRole {
  const settings: SecureContextOptions = {
    ...contextSettings({ minVersion: config.minVersion, maxVersion: config.maxVersion, groups: config.groups }),
    // The server's order of suites, not the client's.
    honorCipherOrder: true,
    // Anchors for client certificates; otherwise none (not Node's bundled roots, ~16 ms to load).
    ca: config.trust ? loadTrustAnchors(config.trust, 'clientAuth') : [],
  };
  const named = new Map<string, SecureContext>();
  for (const pair of config.namedPairs) named.set(pair.name, pairContext({ ...settings, ...readPair(pair) }, pair, pair.name));
  // The default context: the KEYFILE/CERTFILE pair, or none at SNI level 2
  // and more. Built now (the key checked against its chain, 96 before any
  // byte), and kept for every connection of a long-lived server.
  const context: SecureContextOptions = config.keyPair ? { ...settings, ...readPair(config.keyPair) } : settings;
  const shared = config.keyPair
    ? pairContext({ ...context, sessionIdContext: SESSION_ID_CONTEXT }, config.keyPair, 'KEYFILE/CERTFILE')
    : createSecureContext({ ...context, sessionIdContext: SESSION_ID_CONTEXT });
  // With no pair of its own (SNI level 2 and more), it is also the refusal.
  const refuse = config.sniLevel >= 2 ? shared : undefined;
  const contextFor = config.sniLevel >= 1
    ? (servername: string): SecureContext | undefined => {
        const name = servername.toLowerCase();
        const dot = name.indexOf('.');
        return named.get(name) ?? (dot > 0 ? named.get(`*${name.slice(dot)}`) : undefined) ?? refuse;
      }
    : undefined;
  return { context, shared, contextFor, clientCert: config.clientCert };
}
