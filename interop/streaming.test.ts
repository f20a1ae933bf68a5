// A server that streams until the client ends (socat SYSTEM:yes, like a log
// follower), with nothing to send (stdin empty): it is never quiet, so our
// end goes out at the end bound (src/engine/tunnel.ts END_BOUND_MS) and reaches the
// server about 3 s after the start, in -s and -J. What follows is the
// server's: on TLS 1.2 socat (OpenSSL 3) answers our bare FIN with a fatal
// alert, which ends the session (-s: exit 0 with the warning, since the
// stream was coming; -J: 98); on TLS 1.3 our close_notify is a clean
// half-close, socat shuts down yes's input and keeps streaming what yes
// writes, so the session lasts until the reader closes our stdout.
// doc/interop.md has the times.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'child_process';
import { BIN, cleanEnv } from '../test/helpers/harness';
import { SERVER_NAME } from '../test/helpers/pki';
import { makeWorld, World, VERSIONS, versionArgs, modeArgs, CUT_WARNING } from './cases';
import { RealServer, startSocatStream } from './realservers';

let world: World;
let socat: RealServer;

before(async () => {
  world = makeWorld();
  socat = await startSocatStream(world.serverDir('socat-stream'), world.leaf);
});
after(async () => {
  await socat?.stop();
  world?.remove();
});

interface StreamRun {
  code: number | null;
  stderr: string;
  bytes: number;
  elapsed: number;
  /** ms from the start until socat logged our end */
  endSeenAfter?: number;
}

/**
 * tcpclient ... s6-tlsc-io with stdin on /dev/null; stdout is counted, not
 * kept. `stopAfterEnd`: once socat has logged our end, close stdout after
 * another megabyte (the reader goes away). Bounded by 60 s: no wall clock
 * a loaded machine can break; the time is reported.
 */
function streamOnce(mode: '-s' | '-J', version: '1.2' | '1.3', stopAfterEnd: boolean): Promise<StreamRun> {
  const args = ['127.0.0.1', String(socat.port), BIN, ...modeArgs(mode), ...versionArgs(version), '-k', SERVER_NAME, '6', '7'];
  const started = Date.now();
  const logBefore = countEofs();
  const child = spawn('tcpclient', args, { stdio: ['ignore', 'pipe', 'pipe'], env: cleanEnv({ CAFILE: world.root.certPath }) });
  let bytes = 0;
  let stderr = '';
  let endSeenAfter: number | undefined;
  let bytesAtEnd = 0;
  child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
  child.stdout!.on('data', (c: Buffer) => {
    bytes += c.length;
    if (endSeenAfter === undefined && countEofs() > logBefore) {
      endSeenAfter = Date.now() - started;
      bytesAtEnd = bytes;
    }
    if (stopAfterEnd && endSeenAfter !== undefined && bytes - bytesAtEnd > 1024 * 1024) child.stdout!.destroy();
  });
  child.stdout!.on('error', () => undefined);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`still running after 60 s, ${bytes} bytes; socat saw our end: ${endSeenAfter !== undefined}`));
    }, 60_000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      if (endSeenAfter === undefined && countEofs() > logBefore) endSeenAfter = Date.now() - started;
      resolve({ code, stderr, bytes, elapsed: Date.now() - started, endSeenAfter });
    });
  });
}

/** socat logs "socket 1 (fd N) is at EOF" when it reads our end. */
function countEofs(): number {
  return (socat.log().match(/socket 1 \(fd \d+\) is at EOF/g) ?? []).length;
}

for (const version of VERSIONS) {
  for (const mode of ['-s', '-J'] as const) {
    test(`socat SYSTEM:yes (streams until the client ends), TLS ${version}, ${mode}, stdin empty: our end reaches it, and the session ends`, async (t) => {
      const r = await streamOnce(mode, version, version === '1.3');
      t.diagnostic(`exit ${r.code} after ${r.elapsed} ms, ${r.bytes} bytes; socat saw our end after ${r.endSeenAfter} ms; stderr: ${r.stderr.trim() || '(none)'}`);
      if (version === '1.2') {
        // socat's alert is its answer to our FIN (it logs an SSL error, not an EOF).
        // The alert ends it: -j forgives it with the warning (the stream was coming), -J does not.
        if (mode === '-s') {
          assert.equal(r.code, 0, r.stderr);
          assert.match(r.stderr, CUT_WARNING);
        } else {
          assert.equal(r.code, 98, r.stderr);
          assert.match(r.stderr, /^s6-tlsc-io: fatal: the server sent a fatal alert: decode error\n$/);
        }
      } else {
        // socat streams on after our close_notify; our reader ended it.
        assert.ok(r.endSeenAfter !== undefined, 'socat logged our end');
        assert.equal(r.code, 111, r.stderr);
        assert.match(r.stderr, /^s6-tlsc-io: fatal: unable to write to stdout: Broken pipe\n$/);
      }
    });
  }
}
