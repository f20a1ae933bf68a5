// A reset is not an end (SPEC section 6): a server that writes 4 MiB and then
// resets the connection. libuv, after a partial read, reports the POLLHUP of
// that reset as an EOF; the program must still exit 111, after delivering
// every byte it received, whatever the transport path, the TLS version and
// what stdin does. Repeated, because the misreport depends on timing.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'crypto';
import { PassThrough } from 'stream';
import { connect } from 'net';
import { Pki, Cert, serverPki, K, SERVER_NAME } from './helpers/pki';
import { RunResult, runWithSocket } from './helpers/harness';
import { startTlsOverTcp, RunningServer } from './helpers/servers';
import { runTlsClient } from '../src/client/library';

let pki: Pki;
let root: Cert;
let leaf: Cert;
let server: RunningServer;
let port: number;
const payload = randomBytes(4 * 1024 * 1024);

before(async () => {
  ({ pki, root, leaf } = serverPki());
  // The protocol version is chosen by the client (--max-protocol).
  server = await startTlsOverTcp(leaf, (tls, raw) => {
    tls.on('data', () => undefined); // take whatever the client sends
    tls.write(payload, () => {
      // Every byte is in the kernel's hands; a reset now (SO_LINGER 0)
      // drops what is still queued, and the client sees an RST.
      raw.resetAndDestroy();
    });
  });
  port = server.port;
});

after(async () => {
  await server.close();
  pki.remove();
});

type StdinMode = 'empty' | 'kept open' | 'still sending';
const stdinModes: StdinMode[] = ['empty', 'kept open', 'still sending'];
const versions = ['TLSv1.3', 'TLSv1.2'] as const;
const RUNS = 30;

function stdinOptions(mode: StdinMode) {
  if (mode === 'empty') return { stdin: '' };
  if (mode === 'kept open') return { keepStdinOpen: true };
  return {
    keepStdinOpen: true,
    onSpawn: (child: import('child_process').ChildProcess) => {
      const chunk = Buffer.alloc(16 * 1024, 0x61);
      const feed = (): void => {
        while (child.stdin && !child.stdin.destroyed && child.stdin.write(chunk));
        child.stdin?.once('drain', feed);
      };
      child.stdin?.on('error', () => undefined);
      feed();
    },
  };
}

function assertPrefix(out: Buffer, what: string): void {
  assert.ok(out.length <= payload.length, `${what}: no more than the server sent`);
  assert.ok(payload.subarray(0, out.length).equals(out), `${what}: what arrived is the start of what the server sent, in order`);
}

function assertReset(r: RunResult, what: string): void {
  assert.notEqual(r.code, 0, `${what}: a reset is never a clean end (got ${r.stdout.length} bytes)`);
  assert.equal(r.code, 111, `${what}: ${r.stderr}`);
  assert.match(r.stderr, /^s6-tlsc-io: fatal: unable to (read from|write to) the network: (Connection reset by peer|Broken pipe)\n$/, what);
  assertPrefix(r.stdout, what);
}

// The three ways the engine reads the network: tcpclient's two descriptors
// of one socket, one descriptor given twice (one socket object, read and
// written), and -J (the end of the stream watched for a close_notify).
const paths: [string, string[]][] = [
  ['6 and 7, one socket', ['6', '7']],
  ['one descriptor for both', ['6', '6']],
  ['-J', ['-J', '6', '7']],
];

for (const [name, operands] of paths) {
  test(`a reset after 4 MiB, ${name}: exit 111, never 0, every byte received delivered (${RUNS} runs, TLS 1.3 and 1.2, stdin empty, kept open, still sending)`, async () => {
    const runs: Promise<void>[] = [];
    let active = 0;
    const queue = Array.from({ length: RUNS }, (_, i) => i);
    const worker = async (): Promise<void> => {
      for (let i; (i = queue.shift()) !== undefined; ) {
        const version = versions[i % versions.length];
        const mode = stdinModes[Math.floor(i / versions.length) % stdinModes.length];
        active++;
        const r = await runWithSocket(port, [`--max-protocol=${version}`, ...K, ...operands], {
          env: { CAFILE: root.certPath },
          timeoutMs: 30000,
          ...stdinOptions(mode),
        });
        active--;
        assertReset(r, `run ${i}, ${version}, stdin ${mode}`);
      }
    };
    for (let w = 0; w < 4; w++) runs.push(worker());
    await Promise.all(runs);
    assert.equal(active, 0);
  });
}

test(`a reset after 4 MiB through the library on a connected socket: exit code 111, never 0 (${RUNS} runs)`, async () => {
  for (let i = 0; i < RUNS; i++) {
    const version = versions[i % versions.length];
    const socket = connect({ port, host: '127.0.0.1' });
    await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
    const input = new PassThrough();
    const output = new PassThrough();
    const chunks: Buffer[] = [];
    output.on('data', (c: Buffer) => chunks.push(c));
    if (i % 2) input.end();
    const outcome = await runTlsClient({
      network: { socket },
      cleartext: { input, output },
      trust: { cafile: root.certPath },
      servername: SERVER_NAME,
      maxVersion: version,
    });
    assert.equal(outcome.exitCode, 111, `run ${i}, ${version}: ${outcome.reason} after ${Buffer.concat(chunks).length} bytes`);
    assert.match(outcome.reason ?? '', /Connection reset by peer/);
    assertPrefix(Buffer.concat(chunks), `run ${i}`);
  }
});
