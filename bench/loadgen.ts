// The client load of the s6-tlsserver part (bench/tlsserver.ts): one
// process, forked once by the bench and shared by every server, taking its
// orders over the IPC channel.
//
// Why a process of its own rather than Node's TLS inside the bench process:
// at concurrency 64 on two cores the client is one busy event loop (64
// handshakes in flight), and the bench process has its own timers to keep
// (reading /proc, waiting for children to be reaped, holding the servers'
// stderr). Apart, neither delays the other's work, the bench's clock
// readings are not queued behind client callbacks, and every server meets the
// very same warm client (JIT, heap), round after round. Its CPU is in no
// server's process tree.

import { readFileSync } from 'fs';
import { connect as tlsConnect, ConnectionOptions, TLSSocket } from 'tls';
import { exchange } from './tools';

export type LoadOrder =
  | { op: 'short'; port: number; concurrency: number; count: number; request: string }
  | { op: 'up' | 'down'; port: number; bytes: number }
  | { op: 'hold'; port: number; count: number }
  | { op: 'release' }
  | { op: 'exit' };

export interface LoadReport {
  /** connections completed and checked */
  ok: number;
  /** from the first connect to the last close */
  wallMs: number;
  /** the first failure, if any: then the figure is not to be used */
  error?: string;
  /** what the first connection negotiated: protocol and cipher suite */
  tls?: string;
}

let ca = '';
let held: TLSSocket[] = [];

const message = (err: unknown): string => (err instanceof Error ? err.message : String(err));

/** `count` short connections, `concurrency` at a time; stops at the first failure. */
async function short(port: number, concurrency: number, count: number, request: Buffer): Promise<LoadReport> {
  let started = 0;
  let ok = 0;
  let error: string | undefined;
  let tls: string | undefined;
  const t0 = performance.now();
  const worker = async (): Promise<void> => {
    while (started < count && error === undefined) {
      started++;
      try {
        await exchange(port, ca, request, request, 30_000, (s) => (tls ??= `${s.getProtocol()} ${s.getCipher().name}`));
        ok++;
      } catch (err) {
        error ??= message(err);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
  return { ok, wallMs: performance.now() - t0, error, tls };
}

/** One idle connection: handshake, one byte echoed by prog (`cat`): prog is there and waits on input. */
function holdOne(port: number): Promise<TLSSocket> {
  return new Promise((resolve, reject) => {
    const s = tlsConnect({ host: '127.0.0.1', port, ca, servername: 'localhost', allowHalfOpen: true } as ConnectionOptions, () => s.write('x'));
    const timer = setTimeout(() => s.destroy(new Error('no echo in 60 s')), 60_000);
    s.once('data', (c: Buffer) => {
      clearTimeout(timer);
      if (c.toString() === 'x') resolve(s);
      else reject(new Error(`echo ${JSON.stringify(c.toString())}`));
    });
    s.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}

async function hold(port: number, count: number): Promise<LoadReport> {
  const t0 = performance.now();
  let error: string | undefined;
  // 16 handshakes at a time: a server with a process per connection starts them all anyway.
  let started = 0;
  const worker = async (): Promise<void> => {
    while (started < count && error === undefined) {
      started++;
      try {
        const s = await holdOne(port);
        s.on('error', () => undefined);
        held.push(s);
      } catch (err) {
        error ??= message(err);
      }
    }
  };
  await Promise.all(Array.from({ length: 16 }, worker));
  return { ok: held.length, wallMs: performance.now() - t0, error };
}

async function release(): Promise<LoadReport> {
  const t0 = performance.now();
  const all = held;
  held = [];
  await Promise.all(
    all.map(
      (s) =>
        new Promise<void>((resolve) => {
          s.once('close', () => resolve());
          s.end();
          setTimeout(() => s.destroy(), 5000).unref();
        }),
    ),
  );
  return { ok: all.length, wallMs: performance.now() - t0 };
}

async function run(order: LoadOrder): Promise<LoadReport> {
  switch (order.op) {
    case 'short':
      return short(order.port, order.concurrency, order.count, Buffer.from(order.request, 'latin1'));
    case 'up':
    case 'down': {
      const t0 = performance.now();
      try {
        // up: wc -c answers with the count, so every byte reached prog; down: every byte of prog's output.
        if (order.op === 'up') await exchange(order.port, ca, order.bytes, Buffer.from(`${order.bytes}\n`), 120_000);
        else await exchange(order.port, ca, Buffer.alloc(0), order.bytes, 120_000);
        return { ok: 1, wallMs: performance.now() - t0 };
      } catch (err) {
        return { ok: 0, wallMs: performance.now() - t0, error: message(err) };
      }
    }
    case 'hold':
      return hold(order.port, order.count);
    case 'release':
      return release();
    case 'exit':
      process.exit(0);
  }
}

if (require.main === module) {
  // argv[2]: the CA's PEM file.
  ca = readFileSync(process.argv[2] ?? '', 'utf8');
  process.on('message', (order: LoadOrder) => {
    void run(order).then((r) => process.send?.(r));
  });
  process.on('disconnect', () => process.exit(0));
}
