// Debian's haproxy in front of one of our servers, as users put it there:
// mode tcp, one frontend sending a PROXY v1 header (send-proxy), one a v2
// header with a unique id to step over and a checksum (send-proxy-v2).
// Started in the foreground (-db) with a throwaway config, stopped at the
// end of the test.

import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'child_process';
import { once } from 'events';
import { mkdtempSync, rmSync, writeFileSync } from 'fs';
import { connect } from 'net';
import { tmpdir } from 'os';
import { join } from 'path';
import { freePort } from './servers';

export async function startHaproxy(t: TestContext, backend: number): Promise<{ v1Port: number; v2Port: number }> {
  const dir = mkdtempSync(join(tmpdir(), 's6-proxy-haproxy-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const v1Port = await freePort();
  const v2Port = await freePort();
  const conf = join(dir, 'haproxy.cfg');
  writeFileSync(
    conf,
    [
      'global',
      '  maxconn 64',
      'defaults',
      '  mode tcp',
      '  timeout connect 10s',
      '  timeout client 60s',
      '  timeout server 60s',
      `frontend v1`,
      `  bind 127.0.0.1:${v1Port}`,
      '  default_backend b1',
      `frontend v2`,
      `  bind 127.0.0.1:${v2Port}`,
      '  unique-id-format %ci:%cp_%fi:%fp_%Ts_%pid',
      '  default_backend b2',
      'backend b1',
      `  server s 127.0.0.1:${backend} send-proxy`,
      'backend b2',
      `  server s 127.0.0.1:${backend} send-proxy-v2 proxy-v2-options unique-id,crc32c`,
      '',
    ].join('\n'),
  );
  const haproxy = spawn('haproxy', ['-db', '-f', conf], { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  haproxy.stdout.on('data', (c: Buffer) => (log += c.toString()));
  haproxy.stderr.on('data', (c: Buffer) => (log += c.toString()));
  t.after(async () => {
    if (haproxy.exitCode === null && haproxy.signalCode === null) {
      const gone = once(haproxy, 'exit');
      haproxy.kill('SIGTERM');
      await gone;
    }
  });
  // Until it listens on both (these probes reach the backend too).
  for (const p of [v1Port, v2Port]) {
    for (let i = 0; ; i++) {
      assert.ok(haproxy.exitCode === null, `haproxy exited: ${log}`);
      const up = await new Promise<boolean>((resolve) => {
        const s = connect({ port: p, host: '127.0.0.1' }, () => {
          s.destroy();
          resolve(true);
        });
        s.on('error', () => resolve(false));
      });
      if (up) break;
      assert.ok(i < 300, `haproxy does not listen on ${p}: ${log}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  return { v1Port, v2Port };
}
