// What src/base/node-internals.ts relies on for trust anchors, checked on the
// Node that runs the suite: if a Node release changes it, these fail, and
// the program's lazy CADIR or its intermediate anchors must be revisited.
// Each case runs in a process of its own, started as the test says.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'child_process';
import { join } from 'path';
import { Pki, Cert } from './helpers/pki';
import { REPO, cleanEnv } from './helpers/harness';
import { startTlsServer, echo, RunningServer } from './helpers/servers';
import type { Plan, Step } from './helpers/trust-probe';

const PROBE = join(REPO, 'dist', 'test', 'helpers', 'trust-probe.js');

let pki: Pki;
let rootA: Cert;
let rootB: Cert;
let inter: Cert;
let servers: Record<'A' | 'B' | 'G', RunningServer>;

before(async () => {
  pki = new Pki();
  rootA = pki.cert('rootA', { ca: true, cn: 'Internals Root A' });
  rootB = pki.cert('rootB', { ca: true, cn: 'Internals Root B' });
  const rootX = pki.cert('rootX', { ca: true, cn: 'Internals Root X' });
  inter = pki.cert('interG', { ca: true, issuer: rootX, cn: 'Internals Intermediate G' });
  servers = {
    A: await startTlsServer({ leaf: pki.cert('leafA', { issuer: rootA, dns: ['server.test'] }) }, echo),
    B: await startTlsServer({ leaf: pki.cert('leafB', { issuer: rootB, dns: ['server.test'] }) }, echo),
    G: await startTlsServer({ leaf: pki.cert('leafG', { issuer: inter, dns: ['server.test'] }), chain: [inter] }, echo),
  };
});
after(async () => {
  for (const s of Object.values(servers)) await s.close();
  pki.remove();
});

function probe(plan: Plan, flags: string[], env: Record<string, string>): Promise<string[]> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [...flags, PROBE, JSON.stringify(plan)], { env: cleanEnv(env), timeout: 60_000 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${err.message}: ${stderr}`));
      else resolve(JSON.parse(stdout) as string[]);
    });
  });
}

const connect = (server: 'A' | 'B' | 'G', extra: Partial<Extract<Step, { kind: 'connect' }>> = {}): Step => ({ kind: 'connect', port: servers[server].port, ...extra });

test('--use-openssl-ca, SSL_CERT_FILE=/dev/null, SSL_CERT_DIR=d: the default store is d and nothing else; allowPartialTrustChain keeps d; a `ca` context ignores it', async () => {
  const d = pki.caDir('store', [rootA, inter]);
  const steps: [Step, string][] = [
    [connect('A'), 'accepted'],
    [connect('B'), 'UNABLE_TO_VERIFY_LEAF_SIGNATURE'],
    // An intermediate in d is no anchor by itself ...
    [connect('G'), 'UNABLE_TO_GET_ISSUER_CERT'],
    // ... but is with a partial chain allowed, on a store that is still d's.
    [connect('G', { partialChain: true }), 'accepted'],
    [connect('A', { partialChain: true }), 'accepted'],
    [connect('B', { partialChain: true }), 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY'],
    [connect('A', { ca: [rootB.certPath] }), 'UNABLE_TO_VERIFY_LEAF_SIGNATURE'],
    [connect('B', { ca: [rootB.certPath] }), 'accepted'],
  ];
  const verdicts = await probe({ steps: steps.map(([s]) => s) }, ['--use-openssl-ca'], { SSL_CERT_FILE: '/dev/null', SSL_CERT_DIR: d });
  assert.deepEqual(verdicts, steps.map(([, v]) => v));
});

test('an intermediate handed over as `ca` in a TRUSTED CERTIFICATE with serverAuth trust is an anchor; as a plain CERTIFICATE it is not', async () => {
  const trusted = pki.path('inter-trusted.pem');
  execFileSync('openssl', ['x509', '-in', inter.certPath, '-addtrust', 'serverAuth', '-out', trusted]);
  const steps: [Step, string][] = [
    [connect('G', { ca: [trusted] }), 'accepted'],
    [connect('G', { ca: [inter.certPath] }), 'UNABLE_TO_GET_ISSUER_CERT'],
    [connect('A', { ca: [trusted] }), 'UNABLE_TO_VERIFY_LEAF_SIGNATURE'],
  ];
  for (const flags of [[], ['--use-openssl-ca']]) {
    assert.deepEqual(await probe({ steps: steps.map(([s]) => s) }, flags, {}), steps.map(([, v]) => v), flags.join(' '));
  }
});
