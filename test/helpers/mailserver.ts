// A real SMTP or LMTP server with STARTTLS: Python's aiosmtpd (Debian's
// python3-aiosmtpd, run by /usr/bin/python3) on 127.0.0.1 with a throwaway
// certificate. Every message it accepts comes back as one JSON line saying
// whether the session was under TLS. LMTP does not require STARTTLS
// (aiosmtpd's require_starttls refuses LHLO itself), it only offers it.

import { spawn, ChildProcess } from 'child_process';
import { createInterface } from 'readline';
import type { Cert } from './pki';

const SERVER = String.raw`
import asyncio, json, ssl, sys
from aiosmtpd.smtp import SMTP
from aiosmtpd.lmtp import LMTP
kind, cert, key, offer = sys.argv[1:5]
ctx = None
if offer == 'yes':
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert, key)
class Handler:
    async def handle_DATA(self, server, session, envelope):
        tls = session.ssl is not None
        print(json.dumps({'tls': tls, 'version': session.ssl.get('ssl_object').version() if tls else None,
                          'from': envelope.mail_from, 'to': envelope.rcpt_tos,
                          'data': envelope.content.decode('utf-8', 'replace')}), flush=True)
        return '250 accepted'
async def main():
    cls = LMTP if kind == 'lmtp' else SMTP
    loop = asyncio.get_running_loop()
    srv = await loop.create_server(lambda: cls(Handler(), hostname='mail.test', tls_context=ctx,
                                               require_starttls=ctx is not None and kind == 'smtp'), '127.0.0.1', 0)
    print(json.dumps({'port': srv.sockets[0].getsockname()[1]}), flush=True)
    await srv.serve_forever()
asyncio.run(main())
`;

export interface Delivery {
  tls: boolean;
  version: string | null;
  from: string;
  to: string[];
  data: string;
}

export interface MailServer {
  port: number;
  /** messages accepted so far, in order */
  deliveries: Delivery[];
  /** resolves with the next accepted message */
  nextDelivery(): Promise<Delivery>;
  close(): Promise<void>;
}

export async function startMailServer(kind: 'smtp' | 'lmtp', leaf: Cert, opts: { offerStarttls?: boolean } = {}): Promise<MailServer> {
  const child: ChildProcess = spawn('/usr/bin/python3', ['-c', SERVER, kind, leaf.certPath, leaf.keyPath, opts.offerStarttls === false ? 'no' : 'yes'], {
    // Its complaints about the refused handshakes of the bad cases are expected noise.
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  const deliveries: Delivery[] = [];
  const waiting: ((d: Delivery) => void)[] = [];
  const lines = createInterface({ input: child.stdout! });
  const port = await new Promise<number>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`aiosmtpd exited with ${code}`)));
    lines.on('line', (line) => {
      const message = JSON.parse(line) as { port?: number } & Delivery;
      if (message.port) return resolve(message.port);
      deliveries.push(message);
      waiting.shift()?.(message);
    });
  });
  return {
    port,
    deliveries,
    nextDelivery: () => new Promise((resolve) => waiting.push(resolve)),
    close: () =>
      new Promise((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill();
      }),
  };
}
