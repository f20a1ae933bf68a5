// The server part of `npm run bench` (alone: `npm run bench -- --server`):
// our s6-tlsd under Debian's tcpserver against socat
// `OPENSSL-LISTEN,fork,...,EXEC:` and stunnel in server mode with `exec=`
// (and skarnet's C s6-tlsd when REF_BIN names a directory holding it), in one run, the servers alternating round by round. Each server runs a
// tiny prog per connection; the client is Node's TLS in this process, the
// same for everyone. What is measured is the server's side: its process
// tree's CPU time (the listener's own and its reaped children's, read from
// /proc: every connection's processes are reaped by the listener), and the
// wall time per connection.
//   short: handshake, 16 bytes up, 16 back (prog: head -c 16), close
//   up:    BULK bytes to prog (wc -c, whose count comes back), server CPU per GiB
//   down:  BULK bytes from prog (head -c BULK /dev/zero), server CPU per GiB

import { spawn, ChildProcess } from 'child_process';
import { readFileSync, writeFileSync } from 'fs';
import { join } from 'path';
import { REPO, Pki, exchange, median, serverEnv, settled, treeCpu, waitListening } from './tools';

const TLSD = join(REPO, 'bin', 's6-tlsd');
const MiB = 1024 * 1024;

interface ServerUnderTest {
  key: string;
  label: string;
  port: number;
  child: ChildProcess;
}

function startServers(pki: Pki, basePort: number, prog: string): ServerUnderTest[] {
  const env = serverEnv(pki);
  // The same prog for everyone: a tiny shell script that execs it.
  const script = join(pki.dir, `prog-${basePort}.sh`);
  writeFileSync(script, `#!/bin/sh\nexec ${prog}\n`, { mode: 0o755 });
  const stunnelConf = join(pki.dir, `stunnel-server-${basePort}.conf`);
  writeFileSync(stunnelConf, ['foreground = yes', 'pid =', 'debug = 0', '[s]', `accept = 127.0.0.1:${basePort + 2}`, `cert = ${pki.certFile}`, `key = ${pki.keyFile}`, `exec = ${script}`, ''].join('\n'));
  const spawnOpts = { env, stdio: ['ignore', 'ignore', 'ignore'] as ['ignore', 'ignore', 'ignore'], detached: true };
  return [
    { key: 'ours', label: 's6-tlsd under tcpserver', port: basePort, child: spawn('tcpserver', ['-RHl0', '-c', '1000', '127.0.0.1', String(basePort), TLSD, script], spawnOpts) },
    { key: 'socat', label: 'socat OPENSSL-LISTEN,fork', port: basePort + 1, child: spawn('socat', [`OPENSSL-LISTEN:${basePort + 1},bind=127.0.0.1,fork,reuseaddr,cert=${pki.certFile},key=${pki.keyFile},verify=0`, `EXEC:${script}`], spawnOpts) },
    { key: 'stunnel', label: 'stunnel server, exec=', port: basePort + 2, child: spawn('stunnel4', [stunnelConf], spawnOpts) },
    // REF_BIN: a directory with skarnet's C s6-tlsd and s6-tlsd-io, built from source.
    ...(REF_BIN
      ? [{ key: 'c', label: 'C s6-tlsd under tcpserver', port: basePort + 3, child: spawn('tcpserver', ['-RHl0', '-c', '1000', '127.0.0.1', String(basePort + 3), join(REF_BIN, 's6-tlsd'), script], { ...spawnOpts, env: { ...env, PATH: `${REF_BIN}:${process.env.PATH ?? ''}` } }) }]
      : []),
  ];
}

const REF_BIN = process.env.REF_BIN;

function stop(servers: ServerUnderTest[]): void {
  for (const s of servers) {
    try {
      process.kill(-(s.child.pid as number), 'SIGTERM');
    } catch {
      // gone
    }
  }
}

/** The median, or NaN (shown as failed) when any round failed. */
function figure(xs: number[]): number {
  return xs.some(Number.isNaN) ? NaN : median(xs);
}

export interface ServerFigures {
  label: string;
  connPerSec: number;
  cpuMsPerConn: number;
  upCpuPerGiB: number;
  downCpuPerGiB: number;
}

/** Runs the three patterns, `rounds` times each, servers alternating; medians per server. */
export async function serverBench(pki: Pki, basePort: number, opts: { shortPerRound: number; rounds: number; bulkBytes: number }, log: (s: string) => void): Promise<ServerFigures[]> {
  const ca = readFileSync(pki.caFile, 'utf8');
  const figures = new Map<string, { rate: number[]; cpu: number[]; up: number[]; down: number[]; label: string }>();
  const patterns: [string, string, (port: number) => Promise<unknown>][] = [
    ['short', 'head -c 16', (port) => exchange(port, ca, Buffer.from('GET / s6-tlsd...'), 16)],
    // wc reads it all, then answers with the count: every byte reached prog.
    ['up', 'wc -c', (port) => exchange(port, ca, opts.bulkBytes, `${opts.bulkBytes}\n`.length)],
    ['down', `head -c ${opts.bulkBytes} /dev/zero`, (port) => exchange(port, ca, Buffer.alloc(0), opts.bulkBytes)],
  ];
  for (const [pattern, prog, once] of patterns) {
    const servers = startServers(pki, basePort + (pattern === 'short' ? 0 : pattern === 'up' ? 4 : 8), prog);
    try {
      for (const s of servers) await waitListening(s.port, Date.now() + 15_000);
      for (let round = 0; round < opts.rounds; round++) {
        for (const s of round % 2 ? [...servers].reverse() : servers) {
          const f = figures.get(s.key) ?? { rate: [], cpu: [], up: [], down: [], label: s.label };
          figures.set(s.key, f);
          const pid = s.child.pid as number;
          await settled([pid]);
          const cpu0 = treeCpu(pid);
          const t0 = performance.now();
          const n = pattern === 'short' ? opts.shortPerRound : 1;
          let failed = false;
          for (let i = 0; i < n && !failed; i++) {
            // A server that fails the pattern gets no figure for it, and the others go on.
            await once(s.port).catch((err: unknown) => {
              failed = true;
              log(`${s.label} failed the ${pattern} pattern: ${err instanceof Error ? err.message : String(err)}`);
            });
          }
          if (failed) {
            (pattern === 'short' ? f.rate : pattern === 'up' ? f.up : f.down).push(NaN);
            continue;
          }
          const wall = (performance.now() - t0) / 1000;
          await settled([pid]);
          const cpu = treeCpu(pid) - cpu0;
          if (pattern === 'short') {
            f.rate.push(n / wall);
            f.cpu.push((cpu / n) * 1000);
          } else {
            (pattern === 'up' ? f.up : f.down).push(cpu / (opts.bulkBytes / (1024 * MiB)));
          }
        }
        log(`server ${pattern}: round ${round + 1}/${opts.rounds}`);
      }
    } finally {
      stop(servers);
    }
  }
  return [...figures.values()].map((f) => ({
    label: f.label,
    connPerSec: figure(f.rate),
    cpuMsPerConn: figure(f.cpu),
    upCpuPerGiB: figure(f.up),
    downCpuPerGiB: figure(f.down),
  }));
}

/** The table: each figure, and ours as a ratio to the best peer (lower is better but for conn/s). */
export function serverTable(rows: ServerFigures[], opts: { shortPerRound: number; rounds: number; bulkBytes: number }): string[] {
  const ours = rows[0];
  const peers = rows.slice(1);
  const best = (pick: (r: ServerFigures) => number, higher: boolean): number => {
    const values = peers.map(pick).filter(Number.isFinite);
    return higher ? Math.max(...values) : Math.min(...values);
  };
  const shown = (v: number, digits: number): string => (Number.isFinite(v) ? v.toFixed(digits) : 'failed');
  const ratio = (v: number, b: number): string => (Number.isFinite(v / b) ? `${(v / b).toFixed(2)}x` : 'n/a');
  return [
    `## Server side (s6-tlsd under tcpserver, one prog per connection)`,
    '',
    `${opts.rounds} rounds, servers alternating; short: ${opts.shortPerRound} sequential connections per round (handshake, 16 bytes each way, close); bulk: ${opts.bulkBytes / MiB} MiB per round. Server CPU is the listener's process tree (its reaped children included). Client: Node's TLS, in the bench process, the same for every server.`,
    '',
    '| server | connections/s | server CPU ms/connection | upload server CPU s/GiB | download server CPU s/GiB |',
    '|---|---:|---:|---:|---:|',
    ...rows.map((r) => `| ${r.label} | ${shown(r.connPerSec, 1)} | ${shown(r.cpuMsPerConn, 1)} | ${shown(r.upCpuPerGiB, 2)} | ${shown(r.downCpuPerGiB, 2)} |`),
    `| **ours / best peer** | ${ratio(ours.connPerSec, best((r) => r.connPerSec, true))} | ${ratio(ours.cpuMsPerConn, best((r) => r.cpuMsPerConn, false))} | ${ratio(ours.upCpuPerGiB, best((r) => r.upCpuPerGiB, false))} | ${ratio(ours.downCpuPerGiB, best((r) => r.downCpuPerGiB, false))} |`,
  ];
}
