// The demo's server: a throwaway CA, a server certificate for demo.localhost,
// and a TLS server on 127.0.0.1 answering one HTTP/1.0 request per connection.
// Shared by `npm run demo` (the executable) and `npm run example` (the library).

import { createServer, Server } from 'tls';
import { Pki } from '../test/helpers/pki';

export const DEMO_NAME = 'demo.localhost';

export interface DemoServer {
  port: number;
  /** the throwaway CA's certificate: the only trust anchor a client needs */
  cafile: string;
  close(): void;
}

export async function startDemoServer(): Promise<DemoServer> {
  const pki = new Pki();
  const ca = pki.cert('demo-ca', { ca: true, cn: 'Demo CA' });
  const leaf = pki.cert('demo-server', { issuer: ca, cn: DEMO_NAME, dns: [DEMO_NAME] });
  console.log(`throwaway CA and server certificate in ${pki.dir}`);
  const server: Server = createServer({ key: leaf.keyPem, cert: leaf.certPem }, (socket) => {
    let request = '';
    socket.on('error', () => undefined);
    socket.on('data', (chunk) => {
      request += chunk;
      if (request.includes('\r\n\r\n')) {
        const body = `hello over ${socket.getProtocol()}, you asked for ${request.split(' ')[1]}\n`;
        socket.end(`HTTP/1.0 200 OK\r\ncontent-length: ${body.length}\r\n\r\n${body}`);
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  console.log(`TLS server for ${DEMO_NAME} listening on 127.0.0.1:${port}`);
  return {
    port,
    cafile: ca.certPath,
    close: () => {
      server.close();
      pki.remove();
    },
  };
}
