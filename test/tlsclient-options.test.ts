// s6-tlsclient takes the C s6-tlsclient's command line: s6-tcpclient's
// options (-q -Q -v -4 -6 -d -D -H -h -r -R -n -N -t -l -T -i -p, with the C
// program's long names) and s6-tlsc's; --verbosity=N for the TLS side.
// Each is checked against what the C documentation says it does.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'fs';
import { join } from 'path';
import type { TLSSocket } from 'tls';
import { Pki, Cert } from './helpers/pki';
import { REPO, runCommand } from './helpers/harness';
import { startTlsServer, echo, freePort, RunningServer } from './helpers/servers';

const TLSCLIENT = join(REPO, 'bin', 's6-tlsclient');

let pki: Pki;
let root: Cert;
let leaf: Cert;
let server: RunningServer;
const seenPorts: number[] = [];
let n = 0;

before(async () => {
  pki = new Pki();
  root = pki.cert('root', { ca: true });
  leaf = pki.cert('leaf', { issuer: root, cn: 'server.test', dns: ['server.test', 'localhost'], ip: ['127.0.0.1'] });
  server = await startTlsServer({ leaf }, (socket: TLSSocket) => {
    seenPorts.push(socket.remotePort ?? 0);
    echo(socket);
  });
});
after(async () => {
  await server.close();
  pki.remove();
});

/** Runs s6-tlsclient with `options` and a prog that records its environment; returns it. */
async function run(options: string[], env: Record<string, string> = {}): Promise<{ code: number | null; stderr: string; env: Record<string, string> }> {
  const file = pki.path(`env${++n}`);
  const prog = ['sh', '-c', `env > ${file}; echo ok >&7; exec 7>&-; cat <&6 >/dev/null`];
  const r = await runCommand(TLSCLIENT, [...options, '127.0.0.1', String(server.port), ...prog], { CAFILE: root.certPath, ...env });
  const vars: Record<string, string> = {};
  try {
    for (const line of readFileSync(file, 'utf8').split('\n')) {
      const eq = line.indexOf('=');
      if (eq > 0) vars[line.slice(0, eq)] = line.slice(eq + 1);
    }
  } catch {
    // prog did not run
  }
  return { code: r.code, stderr: r.stderr, env: vars };
}

test('-v is a flag (verbose) and does not swallow the host; it adds the "connected to" line', async () => {
  const r = await run(['-v']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, new RegExp(`^s6-tlsclient: info: connected to 127\\.0\\.0\\.1 port ${server.port}$`, 'm'));
  assert.equal(r.env.SSL_PROTOCOL, 'TLSv1.3');
});

test('-q is quiet, -Q normal, the last of -q -Q -v wins; --verbosity=N sets the TLS side\'s level', async () => {
  // -r always warns: a visible warning to switch on and off.
  const quiet = await run(['-r', '-q']);
  assert.equal(quiet.code, 0);
  assert.equal(quiet.stderr, '');
  const normal = await run(['-q', '-r', '-Q']);
  assert.equal(normal.stderr, 's6-tlsclient: warning: IDENT lookups (-r) are not done: TCPREMOTEINFO stays unset\n');
  const lastWins = await run(['-vq', '-r']);
  assert.equal(lastWins.stderr, '');
  const longForms = await run(['--quiet', '--verbose']);
  assert.match(longForms.stderr, /info: connected to/);
  const explicit = await run(['-v', '--verbosity=0', '-r']);
  assert.equal(explicit.stderr, '');
});

test('-i localip and -p localport bind the local end; TCPLOCALIP/TCPLOCALPORT say so, and the server sees that port', async () => {
  const port = await freePort();
  const r = await run(['-i', '127.0.0.1', '-p', String(port)]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.env.TCPLOCALIP, '127.0.0.1');
  assert.equal(r.env.TCPLOCALPORT, String(port));
  assert.equal(seenPorts.at(-1), port);
  assert.equal(r.env.PROTO, 'TCP');
  assert.equal(r.env.TCPREMOTEIP, '127.0.0.1');
  assert.equal(r.env.TCPREMOTEPORT, String(server.port));
  const long = await run([`--local-ip=127.0.0.1`, `--local-port=${port}`]);
  assert.equal(long.env.TCPLOCALPORT, String(port));
});

test('-h looks names up in the hosts database first: TCPLOCALHOST and TCPREMOTEHOST from /etc/hosts', async () => {
  assert.match(readFileSync('/etc/hosts', 'utf8'), /^127\.0\.0\.1\s+localhost\b/m, 'the machine maps 127.0.0.1 to localhost');
  const r = await run(['-h']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.env.TCPLOCALHOST, 'localhost');
  assert.equal(r.env.TCPREMOTEHOST, 'localhost');
});

test('-H: no lookups (TCPLOCALHOST and TCPREMOTEHOST unset, even if inherited), no SNI from the host; -l sets TCPLOCALHOST', async () => {
  const r = await run(['-H', '-h', '--no-verify-cert'], { TCPREMOTEHOST: 'stale', TCPLOCALHOST: 'stale', TCPREMOTEINFO: 'stale' });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.env.TCPREMOTEHOST, undefined);
  assert.equal(r.env.TCPLOCALHOST, undefined);
  assert.equal(r.env.TCPREMOTEINFO, undefined);
  assert.equal(r.env.SSL_TLS_SNI_SERVERNAME, undefined);
  const named = await run(['--no-dns', '-l', 'me.test', '-k', 'server.test']);
  assert.equal(named.code, 0, named.stderr);
  assert.equal(named.env.TCPLOCALHOST, 'me.test');
  assert.equal(named.env.TCPREMOTEHOST, undefined);
  assert.equal(named.env.SSL_TLS_SNI_SERVERNAME, 'server.test');
});

test('-r is accepted and says plainly that IDENT is not done; -R, -n, -N, -d, -D, -4 and their long forms are accepted', async () => {
  const r = await run(['-r']);
  assert.equal(r.code, 0);
  assert.match(r.stderr, /^s6-tlsclient: warning: IDENT lookups \(-r\) are not done: TCPREMOTEINFO stays unset$/m);
  assert.equal(r.env.TCPREMOTEINFO, undefined);
  for (const options of [['-R'], ['-n'], ['-N'], ['-d'], ['-D'], ['-4'], ['--ident', '--no-ident'], ['--qualify', '--no-qualify'], ['--nagle'], ['--no-nagle'], ['--ipv4'], ['--dns'], ['--hosts', '--no-hosts']]) {
    const ok = await run(['-q', ...options]);
    assert.equal(ok.code, 0, `${options.join(' ')}: ${ok.stderr}`);
    assert.equal(ok.stderr, '', options.join(' '));
    assert.equal(ok.env.SSL_PROTOCOL, 'TLSv1.3', options.join(' '));
  }
});

test('-t timeout (seconds) and -T x+y: accepted when well-formed, usage errors (100) otherwise', async () => {
  for (const options of [['-t', '5'], ['-T', '1+2'], ['-T', '3'], ['--timeout=5', '--connection-timeouts=1+1']]) {
    const ok = await run(['-q', ...options]);
    assert.equal(ok.code, 0, `${options.join(' ')}: ${ok.stderr}`);
  }
  for (const [options, message] of [
    [['-t', 'x'], /^s6-tlsclient: usage: timeout must be an unsigned integer: s6-tlsclient \[ /],
    [['-T', '1+'], /^s6-tlsclient: usage: connection-timeouts must be x\+y: s6-tlsclient \[ /],
    [['-T', '+1'], /^s6-tlsclient: usage: connection-timeouts must be x\+y: s6-tlsclient \[ /],
    [['-i', 'nowhere'], /^s6-tlsclient: usage: local-ip must be an IP address: s6-tlsclient \[ /],
    [['-p', '70000'], /^s6-tlsclient: usage: local-port must be a port number: s6-tlsclient \[ /],
  ] as const) {
    const bad = await run([...options]);
    assert.equal(bad.code, 100, options.join(' '));
    assert.match(bad.stderr, message);
  }
});

test('-Z/--keep and -z/--no-keep (the C long names) keep or remove CAFILE', async () => {
  assert.equal((await run(['--keep'])).env.CAFILE, root.certPath);
  assert.equal((await run(['-Z', '--no-keep'])).env.CAFILE, undefined);
  assert.equal((await run(['-Z'])).env.CAFILE, root.certPath);
});
