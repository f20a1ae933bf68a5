// Embedding the engine: an HTTP/1.0 request over a TCP socket we opened
// ourselves, through the same tunnel s6-tlsc-io runs.
import { connect } from 'net';
import { PassThrough } from 'stream';
import { runTlsClient, TunnelOutcome } from 's6-tlsc-io';

export async function fetchOverTls(host: string, port: number, cafile: string, servername: string): Promise<{ outcome: TunnelOutcome; reply: string }> {
  const socket = connect({ host, port });
  await new Promise((resolve) => socket.once('connect', resolve));
  const input = new PassThrough();
  const output = new PassThrough();
  let reply = '';
  output.on('data', (chunk: Buffer) => (reply += chunk));
  input.end(`GET / HTTP/1.0\r\nHost: ${servername}\r\n\r\n`);
  const outcome = await runTlsClient({
    network: { socket },
    cleartext: { input, output },
    trust: { cafile },
    servername,
    handshakeTimeoutMs: 5000,
  });
  // outcome: { exitCode: 0, report: { protocol: 'TLSv1.3', cipher: ..., peerCertHash: 'SHA256:...' } }
  // or { exitCode: 98, reason: 'certificate verification failed: certificate has expired' }
  return { outcome, reply };
}
