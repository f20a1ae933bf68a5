// runTlsServer, the server side's library entry: in this process, on a
// socket a net.Server accepted, against Node's TLS client.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, Socket } from 'net';
import { once } from 'events';
import { PassThrough, Readable } from 'stream';
import { randomBytes } from 'crypto';
import { connect as tlsConnect } from 'tls';
import { Pki } from './helpers/pki';
import { sha256 } from './helpers/harness';
import { runTlsServer } from '../src/index';
import type { TlsServerOptions } from '../src/index';

const pki = new Pki();
const root = pki.cert('root', { ca: true });
const leaf = pki.cert('leaf', { issuer: root, dns: ['lib.test'] });
const other = pki.cert('other', { issuer: root, dns: ['other.test'] });
const keyPair = { certFile: leaf.certPath, keyFile: leaf.keyPath };

/** One accepted socket, and a client connected to it that sends `send` and collects the answer. */
async function pair(send: Buffer, servername?: string): Promise<{ socket: Socket; answer: Promise<{ data: Buffer; error?: Error }> }> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const accepted = once(server, 'connection');
  const port = (server.address() as { port: number }).port;
  const answer = new Promise<{ data: Buffer; error?: Error }>((resolve) => {
    const chunks: Buffer[] = [];
    const c = tlsConnect({ host: '127.0.0.1', port, ca: [root.certPem], servername, checkServerIdentity: () => undefined });
    c.on('secureConnect', () => c.end(send));
    c.on('data', (d: Buffer) => chunks.push(d));
    c.on('error', (error) => resolve({ data: Buffer.concat(chunks), error }));
    c.on('close', () => resolve({ data: Buffer.concat(chunks) }));
  });
  const [socket] = (await accepted) as [Socket];
  server.close();
  return { socket, answer };
}

test('runTlsServer: answers the handshake on a socket, both directions whole, the report with the client\'s SNI, exit code 0', async () => {
  const up = randomBytes(200_000);
  const down = randomBytes(300_000);
  const { socket, answer } = await pair(up, 'lib.test');
  const received: Buffer[] = [];
  const output = new PassThrough();
  output.on('data', (c: Buffer) => received.push(c));
  const outcome = await runTlsServer({ network: { socket }, cleartext: { input: Readable.from([down]), output }, keyPair });
  const client = await answer;
  assert.equal(outcome.exitCode, 0, outcome.reason);
  assert.equal(outcome.report?.servername, 'lib.test');
  assert.equal(outcome.report?.protocol, 'TLSv1.3');
  assert.equal(sha256(Buffer.concat(received)), sha256(up));
  assert.equal(sha256(client.data), sha256(down));
});

test('runTlsServer: SNI level 2 refuses a name with no pair (98); named pairs serve theirs', async () => {
  const named = { sniLevel: 2, namedPairs: [{ name: 'other.test', certFile: other.certPath, keyFile: other.keyPath }] };
  const refused = await pair(Buffer.from('x'), 'lib.test');
  const outcome = await runTlsServer({ network: { socket: refused.socket }, cleartext: { input: Readable.from([]), output: new PassThrough() }, ...named });
  assert.equal(outcome.exitCode, 98, outcome.reason);
  assert.ok((await refused.answer).error, 'the client is refused');
  const served = await pair(Buffer.from('x'), 'other.test');
  const ok = await runTlsServer({ network: { socket: served.socket }, cleartext: { input: Readable.from([]), output: new PassThrough() }, ...named });
  assert.equal(ok.exitCode, 0, ok.reason);
  assert.equal(ok.report?.servername, 'other.test');
});

test('runTlsServer: bad options are 100 with the option named, never a throw, and the socket given is destroyed', async () => {
  const cases: [Record<string, unknown>, RegExp][] = [
    [{}, /keyPair|network/],
    [{ keyPair: { certFile: '' , keyFile: 'k' } }, /keyPair/],
    [{ keyPair, sniLevel: 1, namedPairs: [{ name: '*.test', certFile: leaf.certPath, keyFile: leaf.keyPath }] }, /invalid name/],
    [{ keyPair, clientCert: 'required' }, /trust is needed/],
    [{ keyPair, clientCert: 'sometimes', trust: { cafile: root.certPath } }, /clientCert/],
    [{ keyPair, handshakeTimeoutMs: 2 ** 32 }, /handshakeTimeoutMs/],
    [{ keyPair, groups: 'X25519' }, /groups/],
  ];
  for (const [extra, words] of cases) {
    const { socket, answer } = await pair(Buffer.from('x'));
    const options = { network: { socket }, cleartext: { input: Readable.from([]), output: new PassThrough() }, ...extra } as unknown as TlsServerOptions;
    const outcome = await runTlsServer(options);
    assert.equal(outcome.exitCode, 100, JSON.stringify(extra));
    assert.match(outcome.reason ?? '', words);
    assert.ok(socket.destroyed, 'the socket given is destroyed');
    await answer;
  }
  assert.equal((await runTlsServer(undefined as unknown as TlsServerOptions)).exitCode, 100);
});

test('1200 handshakes that abort at every step (before a byte, mid-header, mid-hello, after the hello, after the server\'s flight; by FIN and by reset): every outcome a failure, none hangs, no descriptor left behind', async (t) => {
  const { readdirSync } = await import('fs');
  const openFds = (): number => readdirSync('/proc/self/fd').length;
  // A ClientHello as Node sends it.
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as { port: number }).port;
  const grab = once(server, 'connection');
  const c = tlsConnect({ host: '127.0.0.1', port, servername: 'lib.test' });
  c.on('error', () => undefined);
  const [first] = (await grab) as [Socket];
  const [hello] = (await once(first, 'data')) as [Buffer];
  first.destroy();
  c.destroy();

  const before = openFds();
  const cuts: (number | 'flight')[] = [0, 3, 40, hello.length, 'flight'];
  const codes = new Map<number, number>();
  const rounds = 120;
  for (let round = 0; round < rounds; round++) {
    // One after the other: the listener's next connection is the client's own.
    for (const cut of cuts) {
      for (const how of ['fin', 'reset'] as const) {
        await (async () => {
          const accepted = once(server, 'connection');
          const client = new Socket();
          client.on('error', () => undefined);
          client.connect(port, '127.0.0.1');
          const [socket] = (await accepted) as [Socket];
          const outcome = runTlsServer({ network: { socket }, cleartext: { input: Readable.from([]), output: new PassThrough() }, keyPair, handshakeTimeoutMs: 60_000 });
          await once(client, 'connect');
          client.write(cut === 'flight' ? hello : hello.subarray(0, cut));
          if (cut === 'flight') await once(client, 'data');
          if (how === 'fin') client.end();
          else client.resetAndDestroy();
          const { exitCode } = await outcome;
          client.destroy();
          codes.set(exitCode, (codes.get(exitCode) ?? 0) + 1);
          assert.notEqual(exitCode, 0, `cut ${cut} by ${how}`);
        })();
      }
    }
  }
  server.close();
  await new Promise((r) => setImmediate(r));
  t.diagnostic(`outcomes: ${[...codes].map(([code, n]) => `${n} x ${code}`).join(', ')}; descriptors ${before} before, ${openFds()} after`);
  assert.equal([...codes.values()].reduce((a, b) => a + b, 0), rounds * cuts.length * 2);
  assert.ok(openFds() <= before + 2, `descriptors: ${before} before, ${openFds()} after`);
});
