// Embedding the engine: one HTTP/1.0 request through the same tunnel
// s6-tlsc-io runs, and how it went. A refused connection, an unknown host
// or a certificate that does not verify comes back as an outcome with
// s6-tlsc-io's exit code and words, never as an exception. Types are
// imported with `import type`, as `verbatimModuleSyntax` (on in what
// `tsc --init` writes) requires. As a program:
//   node dist/examples/library-example.js HOST PORT CAFILE [SERVERNAME]
import { connect } from 'net';
import { PassThrough } from 'stream';
import { runTlsClient } from 's6-tlsc-io';
import type { TlsClientNetwork, TunnelOutcome } from 's6-tlsc-io';

async function request(network: TlsClientNetwork, cafile: string, servername: string): Promise<{ outcome: TunnelOutcome; reply: string }> {
  const input = new PassThrough();
  const output = new PassThrough();
  let reply = '';
  output.on('data', (chunk: Buffer) => (reply += chunk));
  input.end(`GET / HTTP/1.0\r\nHost: ${servername}\r\n\r\n`);
  const outcome = await runTlsClient({
    network,
    cleartext: { input, output },
    trust: { cafile },
    servername,
    handshakeTimeoutMs: 5000,
  });
  // outcome: { exitCode: 0, report: { protocol: 'TLSv1.3', cipher: ..., peerCertHash: 'SHA256:...' } }
  // or { exitCode: 98, reason: 'certificate verification failed: certificate has expired' }
  // or { exitCode: 111, reason: 'unable to connect to 127.0.0.1 port 1: Connection refused' }
  return { outcome, reply };
}

/** The library connects, as s6-tlsclient does. */
export function fetchOverTls(host: string, port: number, cafile: string, servername: string): Promise<{ outcome: TunnelOutcome; reply: string }> {
  return request({ host, port }, cafile, servername);
}

/**
 * Over a socket of yours (one you set options on, or got from a proxy):
 * hand it over at once, still connecting if it is: its errors then come
 * back as the outcome.
 */
export function fetchOverSocket(host: string, port: number, cafile: string, servername: string): Promise<{ outcome: TunnelOutcome; reply: string }> {
  const socket = connect({ host, port });
  socket.setKeepAlive(true);
  return request({ socket }, cafile, servername);
}

// Run as a program (CommonJS or ES module alike), not when imported.
if (/library-example\.[cm]?[jt]s$/.test(process.argv[1] ?? '')) {
  const [host, port, cafile, servername = host] = process.argv.slice(2);
  if (!host || !port || !cafile) {
    console.error('usage: library-example HOST PORT CAFILE [SERVERNAME]');
    process.exit(100);
  }
  fetchOverTls(host, Number(port), cafile, servername).then(({ outcome, reply }) => {
    if (reply) console.log(`the server answered:\n${reply.replace(/\r/g, '')}`);
    if (outcome.report) console.log(`over ${outcome.report.protocol} with ${outcome.report.cipher}; server certificate ${outcome.report.peerCertHash}`);
    console.log(outcome.exitCode === 0 ? 'outcome: exit code 0' : `outcome: exit code ${outcome.exitCode}: ${outcome.reason}`);
    process.exitCode = outcome.exitCode;
  });
}
