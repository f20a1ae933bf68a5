// The server part of `npm run bench` (alone: `npm run bench -- --server`):
// our s6-tlsd under Debian's tcpserver against socat
// `OPENSSL-LISTEN,fork,...,EXEC:` and stunnel in server mode with `exec=`,
// in one run, the servers alternating round by round. Each server runs a
// tiny prog per connection; the client is Node's TLS in this process, the
// same for everyone. What is measured is the server's side: its process
// tree's CPU time (the listener's own and its reaped children's, read from
// /proc: every connection's processes are reaped by the listener), and the
// wall time per connection.
//   short: handshake, 16 bytes up, 16 back (prog: head -c 16), close
//   up:    BULK bytes to prog (cat > /dev/null), server CPU per GiB
//   down:  BULK bytes from prog (head -c BULK /dev/zero), server CPU per GiB

import { spawn, ChildProcess } from 'child_process';
import { readFileSync, writeFileSync } from 'fs';
import { connect as tlsConnect } from 'tls';
import { connect } from 'net';
import { join } from 'path';
import { REPO, Pki, median } from './tools';

const TLSD = join(REPO, 'bin', 's6-tlsd');
const CLK_TCK = 100;
const MiB = 1024 * 1024;

interface ServerUnderTest {
  key: string;
  label: string;
  port: number;
  child: ChildProcess;
}

/** utime+stime+cutime+cstime of a process, in seconds. */
function treeCpu(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14])) / CLK_TCK;
}

/** Children not reaped yet: their CPU is not in the listener's figures until they are. */
function hasChildren(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim() !== '';
  } catch {
    return false;
  }
}

async function settled(pid: number): Promise<void> {
  for (let i = 0; i < 500 && hasChildren(pid); i++) await new Promise((r) => setTimeout(r, 10));
}

async function listening(port: number): Promise<void> {
  for (let i = 0; i < 300; i++) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect(port, '127.0.0.1', () => {
        s.destroy();
        resolve(true);
      });
      s.on('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`nothing listens on ${port}`);
}

function startServers(pki: Pki, basePort: number, prog: string): ServerUnderTest[] {
  const env = { ...process.env, KEYFILE: pki.keyFile, CERTFILE: pki.certFile };
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
  ];
}

function stop(servers: ServerUnderTest[]): void {
  for (const s of servers) {
    try {
      process.kill(-(s.child.pid as number), 'SIGTERM');
    } catch {
      // gone
    }
  }
}

/** One connection: handshake, `send` (then our end), everything back until the server's end. */
function exchange(port: number, ca: string, send: Buffer | number, expect: number): Promise<number> {
  return new Promise((resolve, reject) => {
    let got = 0;
    const s = tlsConnect({ host: '127.0.0.1', port, ca, servername: 'localhost' }, () => {
      if (typeof send !== 'number') return void s.end(send);
      // `send` bytes of zeros, with backpressure, then our end.
      const chunk = Buffer.alloc(256 * 1024);
      let left = send;
      const more = (): void => {
        while (left > 0) {
          const n = Math.min(left, chunk.length);
          left -= n;
          if (!s.write(n === chunk.length ? chunk : chunk.subarray(0, n))) return void s.once('drain', more);
        }
        s.end();
      };
      more();
    });
    s.on('data', (c: Buffer) => (got += c.length));
    s.on('error', reject);
    s.on('close', () => (got === expect ? resolve(got) : reject(new Error(`${got} bytes back, ${expect} expected`))));
  });
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
    ['up', 'cat > /dev/null', (port) => exchange(port, ca, opts.bulkBytes, 0)],
    ['down', `head -c ${opts.bulkBytes} /dev/zero`, (port) => exchange(port, ca, Buffer.alloc(0), opts.bulkBytes)],
  ];
  for (const [pattern, prog, once] of patterns) {
    const servers = startServers(pki, basePort + (pattern === 'short' ? 0 : pattern === 'up' ? 3 : 6), prog);
    try {
      for (const s of servers) await listening(s.port);
      for (let round = 0; round < opts.rounds; round++) {
        for (const s of round % 2 ? [...servers].reverse() : servers) {
          const f = figures.get(s.key) ?? { rate: [], cpu: [], up: [], down: [], label: s.label };
          figures.set(s.key, f);
          const pid = s.child.pid as number;
          await settled(pid);
          const cpu0 = treeCpu(pid);
          const t0 = performance.now();
          const n = pattern === 'short' ? opts.shortPerRound : 1;
          for (let i = 0; i < n; i++) await once(s.port);
          const wall = (performance.now() - t0) / 1000;
          await settled(pid);
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
    connPerSec: median(f.rate),
    cpuMsPerConn: median(f.cpu),
    upCpuPerGiB: median(f.up),
    downCpuPerGiB: median(f.down),
  }));
}

/** The table: each figure, and ours as a ratio to the best peer (lower is better but for conn/s). */
export function serverTable(rows: ServerFigures[], opts: { shortPerRound: number; rounds: number; bulkBytes: number }): string[] {
  const ours = rows[0];
  const peers = rows.slice(1);
  const best = (pick: (r: ServerFigures) => number, higher: boolean): number => (higher ? Math.max(...peers.map(pick)) : Math.min(...peers.map(pick)));
  const ratio = (v: number, b: number): string => (Number.isFinite(v / b) ? `${(v / b).toFixed(2)}x` : 'n/a');
  return [
    `## Server side (s6-tlsd under tcpserver, one prog per connection)`,
    '',
    `${opts.rounds} rounds, servers alternating; short: ${opts.shortPerRound} sequential connections per round (handshake, 16 bytes each way, close); bulk: ${opts.bulkBytes / MiB} MiB per round. Server CPU is the listener's process tree (its reaped children included). Client: Node's TLS, in the bench process, the same for every server.`,
    '',
    '| server | connections/s | server CPU ms/connection | upload server CPU s/GiB | download server CPU s/GiB |',
    '|---|---:|---:|---:|---:|',
    ...rows.map((r) => `| ${r.label} | ${r.connPerSec.toFixed(1)} | ${r.cpuMsPerConn.toFixed(1)} | ${r.upCpuPerGiB.toFixed(2)} | ${r.downCpuPerGiB.toFixed(2)} |`),
    `| **ours / best peer** | ${ratio(ours.connPerSec, best((r) => r.connPerSec, true))} | ${ratio(ours.cpuMsPerConn, best((r) => r.cpuMsPerConn, false))} | ${ratio(ours.upCpuPerGiB, best((r) => r.upCpuPerGiB, false))} | ${ratio(ours.downCpuPerGiB, best((r) => r.downCpuPerGiB, false))} |`,
  ];
}
