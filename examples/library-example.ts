// Embedding the engine: one HTTP/1.0 request through the same tunnel
// s6-tlsc-io runs, and how it went. The library opens the connection
// itself; a refused connection, an unknown host or a certificate that does
// not verify comes back as an outcome with s6-tlsc-io's exit code and words,
// never as an exception. As a program:
//   node dist/examples/library-example.js HOST PORT CAFILE [SERVERNAME]
import { PassThrough } from 'stream';
import { runTlsClient, TunnelOutcome } from 's6-tlsc-io';

export async function fetchOverTls(host: string, port: number, cafile: string, servername: string): Promise<{ outcome: TunnelOutcome; reply: string }> {
  const input = new PassThrough();
  const output = new PassThrough();
  let reply = '';
  output.on('data', (chunk: Buffer) => (reply += chunk));
  input.end(`GET / HTTP/1.0\r\nHost: ${servername}\r\n\r\n`);
  const outcome = await runTlsClient({
    network: { host, port },
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

if (require.main === module) {
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
