// What --help of the server programs says beyond their option tables.

import type { HelpRow } from '../cli/help';

/** The variables every server program reads. */
export const serverEnvironment: readonly HelpRow[] = [
  ['KEYFILE', 'the server\'s private key, PEM or DER (not read at snilevel 2 and more)'],
  ['CERTFILE', 'its certificate chain, PEM or DER, leaf first'],
  ['KEYFILE:name, CERTFILE:name', 'with -k 1 or more: a key pair for clients that send name as SNI; name may be *.domain (first label only)'],
  ['CADIR', 'with -Y or -y: directory of anchors for client certificates, under OpenSSL hash names (xxxxxxxx.0); wins over CAFILE'],
  ['CAFILE', 'with -Y or -y: one PEM file holding those anchors'],
  ['TLS_UID, TLS_GID', 'as root: the numeric ids to drop to (gid first) once every file is read, before the first byte from the client'],
  ['SSLKEYLOGFILE', 'append NSS key-log lines to this file (created 0600), for debugging only'],
];
