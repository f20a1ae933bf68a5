// Run as a process of its own by the trust tests: performs, in ONE Node
// process, a list of TLS connections to given servers, some through the
// library (runTlsClient, each with its own CADIR or CAFILE), some with plain
// tls.connect (its own `ca`, or Node's defaults), and prints what each one
// concluded as JSON. The process's start (flags, SSL_CERT_DIR, ...) is the
// test's to choose.
//
//   node trust-probe.js '{"steps":[...],"parallel":false}'

import { connect as netConnect } from 'net';
import { connect as tlsConnect, createSecureContext } from 'tls';
import { readFileSync } from 'fs';
import { Readable, Writable } from 'stream';
import { runTlsClient } from '../../src/client/library';

export type Step =
  | { kind: 'library'; port: number; trust: { cadir: string } | { cafile: string } }
  | { kind: 'connect'; port: number; ca?: string[]; partialChain?: boolean };

export interface Plan {
  steps: Step[];
  /** run all steps at once instead of one after the other */
  parallel?: boolean;
}

/** 'accepted', or why not: an exit code (library) or an OpenSSL verify code (tls.connect). */
export type Verdict = string;

const SERVER_NAME = 'server.test';

function viaLibrary(step: Extract<Step, { kind: 'library' }>): Promise<Verdict> {
  return new Promise((resolve) => {
    const socket = netConnect({ port: step.port, host: '127.0.0.1' });
    socket.once('error', (e) => resolve(`socket error ${e.message}`));
    socket.once('connect', async () => {
      const output = new Writable({ write: (_c, _e, done) => done() });
      const outcome = await runTlsClient({
        network: { socket },
        cleartext: { input: Readable.from([Buffer.from('probe')]), output },
        trust: step.trust,
        servername: SERVER_NAME,
      });
      resolve(outcome.exitCode === 0 ? 'accepted' : `exit ${outcome.exitCode}`);
    });
  });
}

function viaConnect(step: Extract<Step, { kind: 'connect' }>): Promise<Verdict> {
  return new Promise((resolve) => {
    const options = {
      host: '127.0.0.1',
      port: step.port,
      servername: SERVER_NAME,
      rejectUnauthorized: false,
      ...(step.ca || step.partialChain
        ? { secureContext: createSecureContext({ ca: step.ca?.map((p) => readFileSync(p)), allowPartialTrustChain: step.partialChain }) }
        : {}),
    };
    const socket = tlsConnect(options, () => {
      resolve(socket.authorized ? 'accepted' : String(socket.authorizationError));
      socket.destroy();
    });
    socket.once('error', (e) => resolve(`error ${e.message}`));
  });
}

async function main(): Promise<void> {
  const plan = JSON.parse(process.argv[2]) as Plan;
  const run = (s: Step): Promise<Verdict> => (s.kind === 'library' ? viaLibrary(s) : viaConnect(s));
  const verdicts: Verdict[] = [];
  if (plan.parallel) verdicts.push(...(await Promise.all(plan.steps.map(run))));
  else for (const s of plan.steps) verdicts.push(await run(s));
  process.stdout.write(JSON.stringify(verdicts));
}

// `node --test dist/test/` loads every file here too: without a plan, it does nothing.
if (require.main === module && process.argv[2] !== undefined) void main();
