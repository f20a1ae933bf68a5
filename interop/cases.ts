// What every interop case shares: the PKI, the data, the ways to run our
// programs against a real server, and the rule each run must keep:
// exit 0 only with every byte.

import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { randomBytes } from 'crypto';
import type { TestContext } from 'node:test';
import { REPO, BIN, RunResult, runWithSocket, runWithStdio, sha256 } from '../test/helpers/harness';
import { Pki, Cert, SERVER_NAME } from '../test/helpers/pki';

export const TLSCLIENT = join(REPO, 'bin', 's6-tlsclient');
export const MIB4 = 4 * 1024 * 1024;

export type Version = '1.2' | '1.3';
export const VERSIONS: Version[] = ['1.2', '1.3'];

/** The ways a session can end on our side, as the user picks them. */
export type Mode = '-s' | '-S' | '-J' | '--no-shutdown';

/** A throwaway world for one test file: certificates, a directory for configs, a file to serve. */
export interface World {
  dir: string;
  pki: Pki;
  root: Cert;
  leaf: Cert;
  /** directory served over HTTP, holding `big` */
  www: string;
  big: Buffer;
  /** sha256 of `big` */
  bigSha: string;
  /** a fresh subdirectory for one server's configuration */
  serverDir(name: string): string;
  remove(): void;
}

export function makeWorld(): World {
  const dir = mkdtempSync(join(tmpdir(), 's6-tlsc-io-interop-'));
  const pki = new Pki();
  const root = pki.cert('root', { ca: true });
  const leaf = pki.cert('leaf', { issuer: root, dns: [SERVER_NAME] });
  const www = join(dir, 'www');
  mkdirSync(www);
  const big = randomBytes(MIB4);
  writeFileSync(join(www, 'big'), big);
  return {
    dir,
    pki,
    root,
    leaf,
    www,
    big,
    bigSha: sha256(big),
    serverDir(name: string) {
      const d = join(dir, name.replace(/[^a-z0-9]+/gi, '-'));
      mkdirSync(d, { recursive: true });
      return d;
    },
    remove() {
      pki.remove();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export function modeArgs(mode: Mode): string[] {
  return mode === '-J' ? ['-s', '-J'] : [mode];
}

export function versionArgs(version: Version): string[] {
  return version === '1.2' ? ['--max-protocol=TLSv1.2'] : ['--min-protocol=TLSv1.3'];
}

/** How our program is started. */
export type Launcher = 'fds' | 'tcpclient' | 's6-tlsclient';

export interface ClientRun {
  port: number;
  world: World;
  version: Version;
  mode: Mode;
  stdin: Buffer | string;
  launcher?: Launcher;
  timeoutMs?: number;
}

/** Runs our program once against 127.0.0.1:port, stdin given at once then closed. */
export function runClient(run: ClientRun): Promise<RunResult> {
  const args = [...modeArgs(run.mode), ...versionArgs(run.version), '-k', SERVER_NAME];
  const opts = { env: { CAFILE: run.world.root.certPath }, stdin: run.stdin, timeoutMs: run.timeoutMs ?? 30000 };
  switch (run.launcher ?? 'fds') {
    case 'fds':
      return runWithSocket(run.port, [...args, '6', '7'], opts);
    case 'tcpclient':
      return runWithStdio(['127.0.0.1', String(run.port), BIN, ...args, '6', '7'], ['pipe', 'pipe', 'pipe'], { ...opts, bin: 'tcpclient' });
    case 's6-tlsclient':
      return runWithStdio([...args, '127.0.0.1', String(run.port)], ['pipe', 'pipe', 'pipe'], { ...opts, bin: TLSCLIENT });
  }
}

export interface Outcome {
  complete: boolean;
  code: number | null;
  bytes: number;
  stderr: string;
  /** why the run broke the rule, if it did */
  violation?: string;
  /** a cut the server's own log proves to be the server's (every byte it sent arrived) */
  serverCut?: string;
}

/** Counts of a series of runs, in the words the report uses. */
export interface Tally {
  runs: number;
  complete: number;
  /** exit code -> how many runs ended with it without every byte */
  cut: Map<number | null, number>;
  outcomes: Outcome[];
}

export function describeTally(t: Tally): string {
  const cut = [...t.cut].map(([code, n]) => `${n} cut with exit ${code}`);
  const warned = t.outcomes.filter((o) => !o.complete && o.code === 0 && CUT_WARNING.test(o.stderr)).length;
  if (warned) cut.push(`${warned} of the exit-0 cuts said so on stderr`);
  const broken = t.outcomes.filter((o) => o.violation).length;
  const byServer = t.outcomes.filter((o) => o.serverCut).length;
  return [
    `${t.complete}/${t.runs} complete with exit 0`,
    ...cut,
    ...(byServer ? [`${byServer} of them cut by the server itself (its log)`] : []),
    ...(broken ? [`${broken} BROKE THE RULE`] : []),
  ].join(', ');
}

/**
 * The rule: exit 0 only with every byte, in order (sha256 of the whole
 * output), or, under -j, with the warning that the server ended without
 * close_notify after our half-close (SPEC 6: the one case where a server's
 * bare end is allowed to cut its answer, said on stderr); any other end is a
 * clean failure code (98 TLS, 111 system) with a one-line reason, never a
 * signal or a hang.
 */
export const CUT_WARNING = /^s6-tls[a-z-]*: warning: the server (ended without close_notify|answered our half-close with an alert).*--no-shutdown/m;

export function judge(r: RunResult, expected: { sha: string; prefix?: number }): Outcome {
  const body = expected.prefix !== undefined ? r.stdout.subarray(expected.prefix) : r.stdout;
  const complete = r.code === 0 && sha256(body) === expected.sha;
  let violation: string | undefined;
  if (r.code === 0 && !complete && !CUT_WARNING.test(r.stderr)) violation = `exit 0 with ${r.stdout.length} bytes, not every byte, and no warning`;
  else if (r.code !== 0 && r.code !== 98 && r.code !== 111) violation = `exit ${r.code} (signal ${r.signal})`;
  else if (r.code !== 0 && !/^s6-tls[a-z-]*: fatal: /m.test(r.stderr)) violation = `exit ${r.code} without a fatal line`;
  return { complete, code: r.code, bytes: r.stdout.length, stderr: r.stderr, violation };
}

/** Runs `times` runs one after the other, judging each; reports the tally as a test diagnostic. */
export async function series(t: TestContext, times: number, once: () => Promise<Outcome>): Promise<Tally> {
  const tally: Tally = { runs: 0, complete: 0, cut: new Map(), outcomes: [] };
  for (let i = 0; i < times; i++) {
    const o = await once();
    tally.runs++;
    tally.outcomes.push(o);
    if (o.complete) tally.complete++;
    else tally.cut.set(o.code, (tally.cut.get(o.code) ?? 0) + 1);
  }
  t.diagnostic(describeTally(tally));
  return tally;
}

/** Every run kept the rule. */
export function assertRuleKept(tally: Tally, serverLog: () => string): void {
  const broken = tally.outcomes.filter((o) => o.violation);
  assert.equal(
    broken.length,
    0,
    `${describeTally(tally)}: ${broken.map((o) => `${o.violation} (${o.stderr.trim() || 'nothing on stderr'})`).join('; ')}\nserver log tail: ${serverLog().slice(-1500)}`,
  );
}

/** For the modes where the server is expected to deliver everything: every run complete (and so the rule kept). */
export function assertAllComplete(tally: Tally, serverLog: () => string): void {
  assertRuleKept(tally, serverLog);
  const failed = tally.outcomes.find((o) => !o.complete);
  assert.equal(
    tally.complete,
    tally.runs,
    `${describeTally(tally)}; first failure: exit ${failed?.code}, ${failed?.bytes} bytes, ${failed?.stderr.trim()}\nserver log tail: ${serverLog().slice(-1500)}`,
  );
}

/** An HTTP request for /big that ends the request; HTTP/1.0 or 1.1 with Connection: close. */
export function getBig(http: '1.0' | '1.1'): string {
  return http === '1.0'
    ? `GET /big HTTP/1.0\r\nHost: ${SERVER_NAME}\r\n\r\n`
    : `GET /big HTTP/1.1\r\nHost: ${SERVER_NAME}\r\nConnection: close\r\n\r\n`;
}

/** Checks an HTTP answer: status 200, and returns where the body starts. */
export function httpBodyStart(out: Buffer): number | undefined {
  const end = out.indexOf('\r\n\r\n');
  if (end < 0 || !/^HTTP\/1\.[01] 200 /.test(out.subarray(0, 16).toString('latin1'))) return undefined;
  return end + 4;
}

/** Judges a download of `big`: headers then exactly the file. */
export function judgeDownload(r: RunResult, world: World): Outcome {
  const start = httpBodyStart(r.stdout);
  // No header at all: nothing arrived; judged as a run without every byte.
  return judge(r, { sha: world.bigSha, prefix: start ?? r.stdout.length });
}
