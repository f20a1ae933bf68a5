// Fault injection, network side: a hostile server (test/helpers/hostile.ts)
// cuts, resets, corrupts, stalls and forges at every stage. For every case:
// the exit code of SPEC section 7, exactly one "fatal:" line naming the cause
// (none for a normal end), no stack trace, an end (a hang fails; speed is the
// bench's), and every application byte the server delivered in whole records reached stdout
// in order (sha256 of the delivered prefix against stdout).

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'crypto';
import type { TLSSocket } from 'tls';
import type { ChildProcess } from 'child_process';
import { Pki, Cert, serverPki, K } from './helpers/pki';
import { runWithSocket, sha256, RunResult, RunOptions } from './helpers/harness';
import { startHostileServer, HostileOptions, HostileConnection, TlsRecord, RecordAction, plainAlert, RT_ALERT, expectEnd, rssKiB, sleep } from './helpers/hostile';
import { startRawServer, startOpensslServer } from './helpers/servers';

let pki: Pki;
let root: Cert;
let leaf: Cert;

before(() => ({ pki, root, leaf } = serverPki()));
after(() => pki.remove());

/** Runs the program against a hostile server; returns the result and the server's connection. */
async function against(
  opts: Omit<HostileOptions, 'leaf'>,
  args: string[],
  run: RunOptions = {},
): Promise<{ r: RunResult; conn: HostileConnection }> {
  const server = await startHostileServer({ leaf, ...opts });
  try {
    const next = server.nextConnection();
    const r = await runWithSocket(server.port, [...args, ...K, '6', '7'], {
      env: { CAFILE: root.certPath },
      keepStdinOpen: true,
      timeoutMs: 10_000,
      ...run,
    });
    return { r, conn: await next };
  } finally {
    await server.close();
  }
}

/** The server application: `total` bytes in 8 KiB writes (one record each), then close_notify if asked. */
function sender(payload: Buffer, closeNotify: boolean): (tls: TLSSocket) => void {
  return (tls) => {
    let offset = 0;
    const pump = (): void => {
      while (offset < payload.length) {
        const ok = tls.write(payload.subarray(offset, offset + 8192));
        offset += 8192;
        if (!ok) return void tls.once('drain', pump);
      }
      if (closeNotify) tls.end();
    };
    pump();
  };
}

/**
 * Counts application records; runs `at` on the nth (from 0) and drops every
 * record after it. `before` holds the application bytes of the n records
 * passed before it (how a server cuts its writes into records varies with
 * the runtime: Node 26 coalesces 8 KiB writes into 16 KiB records).
 */
function atAppRecord(n: number, at: (rec: TlsRecord, conn: HostileConnection) => RecordAction | Promise<RecordAction>) {
  let seen = 0;
  const filter = (rec: TlsRecord, conn: HostileConnection): RecordAction | Promise<RecordAction> => {
    if (seen > n) return 'drop';
    if (rec.appBytes === 0) return 'pass';
    if (seen++ === n) return at(rec, conn);
    filter.before += rec.appBytes;
    return 'pass';
  };
  filter.before = 0;
  return filter;
}

function delivered(r: RunResult, payload: Buffer, conn: HostileConnection): void {
  assert.equal(r.stdout.length, conn.appDelivered, 'bytes delivered by the server in whole records reach stdout');
  assert.equal(sha256(r.stdout), sha256(payload.subarray(0, conn.appDelivered)), 'in order, unchanged');
}

// ---- a session cut at every point: close_notify, FIN without it, reset; -j and -J; TLS 1.3 and 1.2 ----

type Point = 'before ServerHello' | 'mid-handshake' | 'after the handshake' | 'mid-transfer' | 'mid-record';
type Ending = 'close_notify' | 'FIN' | 'reset';
const POINTS: Point[] = ['before ServerHello', 'mid-handshake', 'after the handshake', 'mid-transfer', 'mid-record'];
const ENDINGS: Ending[] = ['close_notify', 'FIN', 'reset'];

function scenario(point: Point, ending: Ending, tls13: boolean, payload: Buffer): Omit<HostileOptions, 'leaf'> {
  const cut = async (conn: HostileConnection): Promise<RecordAction> => {
    if (ending === 'reset') await conn.reset();
    else {
      // a plaintext close_notify alert: the only kind a server can send before encryption starts
      if (ending === 'close_notify') await conn.send(plainAlert(1, 0));
      conn.fin();
    }
    return 'drop';
  };
  switch (point) {
    case 'before ServerHello':
      return { onServerRecord: (rec, conn) => (rec.index === 0 ? cut(conn) : 'pass') };
    case 'mid-handshake':
      // TLS 1.3: after ServerHello and ChangeCipherSpec; TLS 1.2: after ServerHello
      return { onServerRecord: (rec, conn) => (rec.index === (tls13 ? 2 : 1) ? cut(conn) : 'pass') };
    case 'after the handshake':
      return {
        onSecure: (tls, conn) =>
          setTimeout(() => {
            if (ending === 'close_notify') tls.end();
            else if (ending === 'FIN') conn.fin();
            else void conn.reset();
          }, 100),
      };
    case 'mid-transfer':
      if (ending === 'close_notify') return { onSecure: sender(payload.subarray(0, 100_000), true) };
      return { onSecure: sender(payload, false), onServerRecord: atAppRecord(12, (_r, conn) => cut(conn)) };
    case 'mid-record':
      return {
        onSecure: sender(payload, false),
        onServerRecord: atAppRecord(12, (rec) => ({ partial: Math.floor(rec.bytes.length / 2), then: ending === 'reset' ? 'reset' : 'fin' })),
      };
  }
}

function expected(point: Point, ending: Ending, flag: string): { code: number; fatal: RegExp | null } {
  if (point === 'before ServerHello' || point === 'mid-handshake') {
    // A reset racing the client's own reads and writes may surface as a plain
    // EOF (seen under load, through the -J link): both words are true, the code is the same.
    if (ending === 'reset') return { code: 98, fatal: /^connection (reset|closed) by the server during the handshake$/ };
    if (ending === 'FIN') return { code: 98, fatal: /^connection closed by the server during the handshake$/ };
    return { code: 98, fatal: /^(the server sent a fatal alert: close notify|connection closed by the server during the handshake|TLS protocol error: .+)$/ };
  }
  if (ending === 'reset') return { code: 111, fatal: /^unable to read from the network: Connection reset by peer$/ };
  if (ending === 'close_notify') return { code: 0, fatal: null };
  // FIN with no close_notify, at a record boundary or inside a record
  return flag === '-J' ? { code: 98, fatal: /^remote closed connection without a close_notify$/ } : { code: 0, fatal: null };
}

describe('a session cut at every point', { concurrency: 4 }, () => {
  const payload = randomBytes(200_000);
  for (const version of ['TLSv1.3', 'TLSv1.2'] as const) {
    for (const point of POINTS) {
      for (const ending of ENDINGS) {
        if (point === 'mid-record' && ending === 'close_notify') continue; // a close_notify sits between records: that is mid-transfer
        for (const flag of ['-j', '-J']) {
          const want = expected(point, ending, flag);
          test(`${version}, ${point}, ${ending}, ${flag}: exit ${want.code}`, async () => {
            const { r, conn } = await against(
              { maxVersion: version, ...scenario(point, ending, version === 'TLSv1.3', payload) },
              [flag],
            );
            expectEnd(r, want);
            delivered(r, payload, conn);
            if (point === 'mid-transfer' || point === 'mid-record') assert.ok(conn.appDelivered >= 12 * 8192, 'the cut came after a dozen records');
            if (point === 'mid-transfer' && ending === 'close_notify') assert.equal(conn.appDelivered, 100_000);
          });
        }
      }
    }
  }
});

// ---- what is not TLS ----

describe('a server that does not speak TLS', { concurrency: 3 }, () => {
  for (const [name, bytes] of [
    ['random bytes', randomBytes(3000)],
    ['an HTTP answer', Buffer.from('HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n')],
  ] as const) {
    test(`${name}, then close: exit 98`, async () => {
      const server = await startRawServer((s) => s.once('data', () => s.end(bytes)));
      try {
        const r = await runWithSocket(server.port, [...K, '6', '7'], { env: { CAFILE: root.certPath }, keepStdinOpen: true, timeoutMs: 5000 });
        expectEnd(r, { code: 98, fatal: /^(the server did not answer with TLS \(.+\)|TLS protocol error: .+|connection closed by the server during the handshake)$/ });
        assert.equal(r.stdout.length, 0);
      } finally {
        await server.close();
      }
    });
  }
  test('a truncated ServerHello, then close: exit 98', async () => {
    const { r } = await against({ onServerRecord: (rec) => (rec.index === 0 ? { partial: 40, then: 'fin' } : 'pass') }, []);
    expectEnd(r, { code: 98, fatal: /^connection closed by the server during the handshake$/ });
  });
  test('a handshake_failure alert instead of a ServerHello: exit 98 naming the alert', async () => {
    const { r } = await against(
      { onServerRecord: async (rec, conn) => (rec.index === 0 ? { replace: plainAlert(2, 40) } : (conn.fin(), 'drop')) },
      [],
    );
    expectEnd(r, { code: 98, fatal: /^the server sent a fatal alert: handshake failure$/ });
  });
});

// ---- records that break the session after valid ones ----

describe('bad records after valid ones', { concurrency: 4 }, () => {
  const payload = randomBytes(100_000);
  for (const version of ['TLSv1.3', 'TLSv1.2'] as const) {
    test(`${version}: a corrupted record (bad MAC) -> exit 98, the records before it delivered`, async () => {
      const corrupt = atAppRecord(5, (rec) => {
        const bad = Buffer.from(rec.bytes);
        bad[bad.length - 20] ^= 0x40;
        return { replace: bad };
      });
      const { r, conn } = await against({ maxVersion: version, onSecure: sender(payload, true), onServerRecord: corrupt }, []);
      expectEnd(r, { code: 98, fatal: /^TLS protocol error: (decryption failed or bad record mac|bad record mac|cipher operation failed)$/ });
      assert.ok(corrupt.before >= 5 * 8192, 'five whole records went before the bad one');
      assert.equal(conn.appDelivered, corrupt.before);
      delivered(r, payload, conn);
    });
    test(`${version}: an oversized record -> exit 98, the records before it delivered`, async () => {
      const { r, conn } = await against(
        {
          maxVersion: version,
          onSecure: sender(payload, true),
          onServerRecord: atAppRecord(5, () => {
            const length = 16384 + 2048 + 1; // over any version's ciphertext limit
            return { replace: Buffer.concat([Buffer.from([23, 3, 3, length >> 8, length & 255]), randomBytes(length)]) };
          }),
        },
        [],
      );
      expectEnd(r, { code: 98, fatal: /^(the server did not answer with TLS \(.+\)|TLS protocol error: .+)$/ });
      delivered(r, payload, conn);
    });
  }
  test('TLSv1.3: an encrypted fatal alert (internal_error) -> exit 98 naming it, the records before it delivered', async () => {
    const alert = atAppRecord(5, (_rec, conn) => ({ replace: conn.forgeInstead(RT_ALERT, Buffer.from([2, 80])) }));
    const { r, conn } = await against({ onSecure: sender(payload, true), onServerRecord: alert }, []);
    expectEnd(r, { code: 98, fatal: /^the server sent a fatal alert: internal error$/ });
    assert.ok(alert.before >= 5 * 8192, 'five whole records went before the alert');
    assert.equal(conn.appDelivered, alert.before);
    delivered(r, payload, conn);
  });
  test('TLSv1.3: a fatal alert after the client finished its handshake (certificate required) -> exit 98', async () => {
    const clientCa = pki.cert('client-ca', { ca: true });
    const { r } = await against({ clientCa }, []);
    expectEnd(r, { code: 98, fatal: /^the server sent a fatal alert: .*certificate required$/ });
  });
});

// ---- renegotiation and key updates ----

// The client refuses (a no_renegotiation warning alert, SSL_OP_NO_RENEGOTIATION);
// OpenSSL-based servers, Node's included, answer that with a fatal
// handshake_failure alert: the session ends in exit 98 naming that alert, and
// what the server sent before its request has been delivered.
test('TLS 1.2: a renegotiation request is refused; the server aborts: exit 98, the data before it delivered', async () => {
  const first = randomBytes(30_000);
  const { r } = await against(
    {
      maxVersion: 'TLSv1.2',
      onSecure: (tls) => {
        tls.write(first, () =>
          setTimeout(() =>
            tls.renegotiate({}, () => tls.end(randomBytes(1000))), 100),
        );
      },
    },
    ['-d', '3'],
    { notificationFd: 3 },
  );
  expectEnd(r, { code: 98, fatal: /^the server sent a fatal alert: handshake failure$/ });
  assert.match(r.notification!.toString(), /^SSL_PROTOCOL=TLSv1\.2\0/, 'one notification, for the first handshake only');
  assert.equal(sha256(r.stdout), sha256(first));
});

test('TLS 1.3: repeated KeyUpdates from the server (openssl s_server k/K), every byte delivered', async () => {
  const s = await startOpensslServer(['-tls1_3', '-cert', leaf.certPath, '-key', leaf.keyPath]);
  let sent = '';
  const r = await runWithSocket(s.port, ['-d', '3', ...K, '6', '7'], {
    env: { CAFILE: root.certPath },
    keepStdinOpen: true,
    timeoutMs: 15_000,
    notificationFd: 3,
    onSpawn: (child: ChildProcess) => {
      // After the handshake: data lines, each followed by a KeyUpdate, some requesting one back.
      child.stdio[3]!.once('end', async () => {
        for (let i = 0; i < 20; i++) {
          const line = `line ${i} ${randomBytes(16).toString('hex')}\n`;
          sent += line;
          s.process.stdin!.write(line);
          await sleep(15);
          s.process.stdin!.write(i % 2 ? 'K\n' : 'k\n');
          await sleep(15);
        }
        s.process.stdin!.write('Q\n');
      });
    },
  });
  const output = await s.output;
  expectEnd(r, { code: 0, fatal: null });
  assert.ok((output.match(/SSL_do_handshake -> 1/g) ?? []).length >= 20, 'the server sent its key updates');
  assert.equal(r.stdout.toString(), sent);
});

// ---- slow and stalled servers ----

describe('slow and stalled servers', { concurrency: 4 }, () => {
  // One byte every 100 ms for the first 30 bytes of the server's flight, then one every 2 ms:
  // a slow-loris handshake of about 5 s in all (more where the key share is
  // a post-quantum one: X25519MLKEM768 adds 1 KiB to the ServerHello).
  const trickle = (): HostileOptions['onServerRecord'] & { bytes: () => number } => {
    let sentBytes = 0;
    const filter = (rec: TlsRecord): RecordAction => {
      if (rec.appBytes > 0 || rec.index > 9) return 'pass';
      return { trickle: () => (sentBytes++ < 30 ? 100 : 2) };
    };
    return Object.assign(filter, { bytes: () => sentBytes });
  };
  test('a handshake trickled byte by byte, no -K: it completes and the data arrives', async () => {
    const payload = randomBytes(20_000);
    const slow = trickle();
    const { r, conn } = await against({ onServerRecord: slow, onSecure: sender(payload, true) }, [], { timeoutMs: 40_000 });
    expectEnd(r, { code: 0, fatal: null });
    assert.ok(slow.bytes() > 30, `the handshake was trickled (${slow.bytes()} bytes one by one)`);
    delivered(r, payload, conn);
    assert.equal(r.stdout.length, payload.length);
  });
  test('a handshake trickled byte by byte, -K 1000: exit 98 at the deadline', async () => {
    const { r } = await against({ onServerRecord: trickle() }, ['-K', '1000']);
    expectEnd(r, { code: 98, fatal: /^handshake timed out after 1000 ms$/ });
    // The deadline, not the hang guard, ended it: at least its time, and far
    // less than a minute however loaded the machine.
    assert.ok(r.elapsed >= 900 && r.elapsed < 60_000, `ended after ${r.elapsed} ms`);
  });

  test('a server that stalls after the handshake while stdin keeps coming: memory stays flat, then a reset ends it (111)', async () => {
    const chunk = randomBytes(64 * 1024);
    let accepted = 0;
    const samples: number[] = [];
    const { r } = await against(
      {
        onSecure: (_tls, conn) => {
          conn.stall();
          // The measure: RSS once the pipes are full, and 3 s later.
          setTimeout(() => void conn.reset(), 3500);
        },
      },
      [],
      {
        timeoutMs: 15_000,
        onSpawn: (child) => {
          const feed = (): void => {
            while (!child.stdin!.destroyed && child.stdin!.write(chunk)) accepted += chunk.length;
            if (!child.stdin!.destroyed) child.stdin!.once('drain', () => ((accepted += chunk.length), feed()));
          };
          feed();
          const timer = setInterval(() => samples.push(rssKiB(child.pid!)), 250);
          child.on('exit', () => clearInterval(timer));
        },
      },
    );
    expectEnd(r, { code: 111, fatal: /^unable to (write to|read from) the network: (Connection reset by peer|Broken pipe)$/ });
    const live = samples.filter((x) => x > 0);
    const settled = live.slice(4); // from 1 s on
    const growth = Math.max(...settled) - settled[0];
    assert.ok(growth < 16 * 1024, `RSS grew by ${growth} KiB while stalled (samples ${live.join(' ')})`);
    assert.ok(accepted < 64 * 1024 * 1024, `the program took ${accepted} bytes from stdin while the server read nothing`);
  });

  test('the server ends its side and never reads while stdin has more: the program gives up after 5 s without progress (exit 0, a warning)', async () => {
    const payload = randomBytes(50_000);
    const chunk = randomBytes(64 * 1024);
    const { r, conn } = await against(
      {
        onSecure: (tls, conn) => {
          conn.stall();
          // Let the client's writes pile up, then end with close_notify.
          setTimeout(() => sender(payload, true)(tls), 1000);
        },
      },
      [],
      {
        timeoutMs: 15_000,
        onSpawn: (child) => feedForever(child, chunk),
      },
    );
    expectEnd(r, { code: 0, fatal: null, warning: /^\d+ bytes from stdin not sent: the server stopped reading after its end$/ });
    delivered(r, payload, conn);
    assert.equal(r.stdout.length, payload.length);
    assert.ok(r.elapsed >= 5500 && r.elapsed < 60_000, `gave up after ${r.elapsed} ms`);
  });
});

// ---- a reset while the output is slow: what was decrypted is not dropped ----

test('reset while stdout is slow and stdin is writing: every byte the client received reaches stdout, then exit 111', async () => {
  const payload = randomBytes(400_000);
  const chunk = randomBytes(16 * 1024);
  for (const flag of ['-j', '-J']) {
    const { r, conn } = await against(
      {
        onSecure: (tls, conn) => {
          tls.resume();
          sender(payload, false)(tls);
          // the reset comes once the client has read every byte out of its
          // kernel (which a reset would drop), while much of it still waits
          // behind the slow output: an event, not a delay a loaded machine
          // can outrun
          void (async () => {
            for (let i = 0; i < 6000 && (conn.appDelivered < payload.length || conn.unacked() > 0 || conn.unreadByClient() > 0); i++) await sleep(10);
            await conn.reset();
          })();
        },
      },
      [flag],
      {
        timeoutMs: 15_000,
        onSpawn: (child) => {
          // stdin flows all along (its writes meet the reset); stdout is read 1 KiB every 10 ms
          feedForever(child, chunk);
          const out = child.stdout!;
          out.pause();
          // (the harness collects what read() returns, through its 'data' listener)
          const slow = setInterval(() => out.read(1024) ?? out.read(), 10);
          out.on('close', () => clearInterval(slow));
        },
      },
    );
    expectEnd(r, { code: 111, fatal: /^unable to (write to|read from) the network: (Connection reset by peer|Broken pipe)$/ });
    assert.equal(conn.appDelivered, payload.length);
    assert.equal(conn.unacked(), 0);
    assert.equal(r.stdout.length, payload.length, `${flag}: bytes decrypted before the reset reach stdout`);
    assert.equal(sha256(r.stdout), sha256(payload));
  }
});

/** Keeps the program's stdin as full as it takes, until the pipe goes away. */
function feedForever(child: ChildProcess, chunk: Buffer): void {
  const feed = (): void => {
    while (!child.stdin!.destroyed && child.stdin!.write(chunk));
    if (!child.stdin!.destroyed) child.stdin!.once('drain', feed);
  };
  child.stdin!.on('error', () => undefined);
  feed();
}
