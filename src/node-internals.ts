// Every place where this project relies on how Node behaves beyond what its
// documentation promises, each with why, the Node versions it was checked
// on, and the test that fails when Node changes it
// (test/node-internals.test.ts). Nothing here is a private API call; these
// are documented switches whose finer behaviour we depend on.

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
