// What this runtime itself can tell, measured in process, for tests whose
// expected output depends on the Node version they run on.

import { once } from 'events';
import { connect, createServer, TLSSocket } from 'tls';
import type { AddressInfo } from 'net';
import type { Cert } from './pki';

/**
 * The key exchange group a default client and server of this runtime agree,
 * as getEphemeralKeyInfo names it, or undefined where it cannot name it
 * (Node 22 has OpenSSL 3.5 and agrees X25519MLKEM768, but cannot say so).
 * Only the group is of interest here: the certificate is not checked.
 */
export async function defaultGroupName(leaf: Cert): Promise<string | undefined> {
  const server = createServer({ key: leaf.keyPem, cert: leaf.certPem }, (s) => s.end());
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  try {
    const client: TLSSocket = connect({ port: (server.address() as AddressInfo).port, host: '127.0.0.1', rejectUnauthorized: false });
    await once(client, 'secureConnect');
    const info = client.getEphemeralKeyInfo() as { name?: string } | null;
    client.destroy();
    return info?.name || undefined;
  } finally {
    server.close();
  }
}
