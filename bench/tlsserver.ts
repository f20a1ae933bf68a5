// The s6-tlsserver part of `npm run bench` (alone: `npm run bench --
// --tlsserver`): our bin/s6-tlsserver (one Node process that listens,
// accepts, runs every connection's TLS and spawns prog alone) against
// stunnel in server mode with `exec=`, socat `OPENSSL-LISTEN,fork,...,EXEC:`,
// our s6-tlsd under Debian's tcpserver, and skarnet's C s6-tlsserver when
// REF_BIN names a directory holding it. The servers alternate round by
// round; the client load is the same for all (bench/loadgen.ts, one process
// shared by every server).
//   short: handshake, 16 bytes up, the same 16 back from prog, close, at
//          concurrency 1, 16 and 64: connections/s and server CPU each
//   up:    BULK bytes to prog (wc -c, whose count comes back), server CPU per GiB
//   down:  BULK bytes from prog (head -c BULK /dev/zero), server CPU per GiB
//   idle:  N connections held open (handshake done, prog `cat` waiting on
//          input): PSS of the server's whole process tree per connection
// What is measured is always the server's whole process tree (see
// `Running.cpu` and `treePss`).

import { ChildProcess, fork, spawn, spawnSync } from 'child_process';
import { existsSync, mkdirSync, readFileSync, readlinkSync, realpathSync, writeFileSync } from 'fs';
import { join } from 'path';
import { LoadOrder, LoadReport } from './loadgen';
import { REPO, Pki, childPids, machineFacts, median, memoryOf, processTree, serverEnv, treeCpu, waitListening } from './tools';

const TLSSERVER = join(REPO, 'bin', 's6-tlsserver');
const TLSD = join(REPO, 'bin', 's6-tlsd');
const MiB = 1024 * 1024;
const GiB = 1024 * MiB;
const REQUEST = Buffer.from('GET / tlsserver\n');

export interface TlsServerPlan {
  rounds: number;
  /** concurrency levels, and the connections per round at each */
  levels: { concurrency: number; count: number }[];
  bulkBytes: number;
  idle: number;
}

export function tlsServerPlan(quick: boolean): TlsServerPlan {
  return quick
    ? { rounds: 2, levels: [{ concurrency: 1, count: 8 }, { concurrency: 16, count: 32 }, { concurrency: 64, count: 64 }], bulkBytes: 64 * MiB, idle: 20 }
    : { rounds: 3, levels: [{ concurrency: 1, count: 24 }, { concurrency: 16, count: 64 }, { concurrency: 64, count: 128 }], bulkBytes: 256 * MiB, idle: 100 };
}

// ---------------------------------------------------------------- helpers compiled at bench time

const ECHO16_C = `#include <unistd.h>
/* Reads 16 bytes (or up to EOF), writes them back, exits. */
int main(void) {
  char b[16]; size_t n = 0, w = 0;
  while (n < 16) { ssize_t r = read(0, b + n, 16 - n); if (r <= 0) break; n += (size_t)r; }
  while (w < n) { ssize_t r = write(1, b + w, n - w); if (r <= 0) return 1; w += (size_t)r; }
  return 0;
}
`;

// A subreaper around every server: skarnet's s6-tlsd execs into prog and
// leaves s6-tlsd-io (the TLS of the connection) as prog's child, so when
// prog exits first s6-tlsd-io is reparented away from the listener and its
// CPU time would be in nobody's figures. Under this wrapper, orphans come
// back to it and are reaped by it: its cutime/cstime are theirs.
const SUBREAPER_C = `#include <errno.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>
static pid_t child;
static void pass(int sig) { if (child > 0) kill(child, sig); }
int main(int argc, char **argv) {
  int status = 0, code = 111;
  struct sigaction sa;
  if (argc < 2 || prctl(PR_SET_CHILD_SUBREAPER, 1) < 0) return 111;
  child = fork();
  if (child < 0) return 111;
  if (child == 0) { execvp(argv[1], argv + 1); _exit(127); }
  sa.sa_handler = pass; sa.sa_flags = 0; sigemptyset(&sa.sa_mask);
  sigaction(SIGTERM, &sa, 0); sigaction(SIGINT, &sa, 0); sigaction(SIGHUP, &sa, 0);
  for (;;) {
    pid_t p = wait(&status);
    if (p == child) code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    else if (p < 0 && errno == ECHILD) return code;
  }
}
`;

function which(cmd: string): string {
  return realpathSync(spawnSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' }).stdout.trim());
}

/** Compiles `source` into `dir`; undefined when there is no working cc. */
function compile(dir: string, name: string, source: string, log: (s: string) => void): string | undefined {
  const src = join(dir, `${name}.c`);
  const out = join(dir, name);
  writeFileSync(src, source);
  const r = spawnSync('cc', ['-O2', '-o', out, src], { encoding: 'utf8' });
  if (r.status === 0 && existsSync(out)) return out;
  log(`cc could not build ${name}${r.error ? ` (${r.error.message})` : `: ${(r.stderr ?? '').trim().split('\n').pop()}`}`);
  return undefined;
}

// ---------------------------------------------------------------- servers

interface Candidate {
  key: string;
  label: string;
  /** the program's argv, prog after it */
  argv(port: number, prog: string[]): string[];
  /** PATH, when not the bench's */
  path?: string;
  /** `-1`: a line on stdout once it listens; otherwise its port is polled */
  readyLine: boolean;
  /** set when it cannot run at all */
  missing?: string;
}

function candidates(pki: Pki, refBin: string | undefined): Candidate[] {
  const s6Flags = (port: number): string[] => ['-1', '-c', '1000', '-C', '1000', '-b', '1024', '-H', '-l', '0', '--', '127.0.0.1', String(port)];
  const list: Candidate[] = [
    {
      key: 'ours',
      label: 'ours: s6-tlsserver',
      argv: (port, prog) => [TLSSERVER, ...s6Flags(port), ...prog],
      readyLine: true,
      missing: existsSync(TLSSERVER) ? undefined : 'bin/s6-tlsserver does not exist',
    },
    {
      key: 'tlsd',
      label: 'our s6-tlsd under tcpserver',
      argv: (port, prog) => ['tcpserver', '-RHl0', '-b', '1024', '-c', '1000', '127.0.0.1', String(port), TLSD, ...prog],
      readyLine: false,
    },
    {
      key: 'socat',
      label: 'socat OPENSSL-LISTEN,fork',
      argv: (port, prog) => ['socat', `OPENSSL-LISTEN:${port},bind=127.0.0.1,fork,reuseaddr,backlog=1024,cert=${pki.certFile},key=${pki.keyFile},verify=0`, `EXEC:${prog.join(' ')}`],
      readyLine: false,
    },
    {
      key: 'stunnel',
      label: 'stunnel server, exec=',
      argv: (port, prog) => {
        const conf = join(pki.dir, `stunnel-tlsserver-${port}.conf`);
        writeFileSync(conf, ['foreground = yes', 'pid =', 'debug = 0', '[s]', `accept = 127.0.0.1:${port}`, `cert = ${pki.certFile}`, `key = ${pki.keyFile}`,
          `exec = ${prog[0]}`, `execArgs = ${prog.join(' ')}`, ''].join('\n'));
        return ['stunnel4', conf];
      },
      readyLine: false,
    },
  ];
  // REF_BIN: skarnet's s6-networking built from source; the C s6-tlsserver
  // execs s6-tcpserver, s6-tcpserverd, s6-tcpserver-access, s6-tlsd... from PATH.
  if (refBin) {
    const c = join(refBin, 's6-tlsserver');
    list.push({
      key: 'c',
      label: 'C s6-tlsserver',
      argv: (port, prog) => [c, ...s6Flags(port), ...prog],
      path: `${refBin}:${process.env.PATH ?? ''}`,
      readyLine: true,
      missing: existsSync(c) ? undefined : `no s6-tlsserver in REF_BIN=${refBin}`,
    });
  }
  return list;
}

interface Running {
  c: Candidate;
  port: number;
  /** the wrapper (subreaper) when there is one, else the server itself */
  top: number;
  /** the server's own process (the listener) */
  main: number;
  child: ChildProcess;
  stderr: () => string;
  /** the processes the server keeps while idle (a listener, a spawner of progs): every other is a connection's */
  resident: number[];
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Starts one server and waits until it listens; a string says why it could not. */
async function start(c: Candidate, port: number, prog: string[], pki: Pki, subreaper: string | undefined): Promise<Running | string> {
  if (c.missing) return c.missing;
  const argv = c.argv(port, prog);
  const full = subreaper ? [subreaper, ...argv] : argv;
  const child = spawn(full[0], full.slice(1), {
    env: serverEnv(pki, c.path),
    stdio: ['ignore', c.readyLine ? 'pipe' : 'ignore', 'pipe'],
    detached: true,
  });
  let tail = '';
  child.stderr?.on('data', (b: Buffer) => (tail = (tail + b.toString()).slice(-2000)));
  const stderr = (): string => tail.trim().split('\n').slice(-2).join(' | ');
  let exited = false;
  child.once('exit', () => (exited = true));
  child.once('error', () => (exited = true));
  const ready = c.readyLine
    ? new Promise<boolean>((resolve) => {
        let out = '';
        child.stdout?.on('data', (b: Buffer) => {
          out += b.toString();
          if (out.includes('\n')) resolve(true);
        });
        child.once('exit', () => resolve(false));
        child.once('error', () => resolve(false));
        setTimeout(() => resolve(false), 20_000).unref();
      })
    : Promise.race([
        waitListening(port, Date.now() + 15_000).then(() => true, () => false),
        new Promise<boolean>((resolve) => child.once('exit', () => resolve(false))),
      ]);
  const ok = await ready;
  const top = child.pid ?? 0;
  let main = top;
  if (ok && subreaper) {
    for (let i = 0; i < 100 && childPids(top).length === 0; i++) await sleep(10);
    main = childPids(top)[0] ?? 0;
  }
  if (!ok || exited || main === 0) {
    kill(child);
    return `did not start${exited ? ` (exit ${child.exitCode ?? child.signalCode})` : ''}${stderr() ? `: ${stderr()}` : ''}`;
  }
  // Idle, the tree is what lives as long as the server: taken once it settled.
  await sleep(300);
  return { c, port, top, main, child, stderr, resident: processTree(top) };
}

function kill(child: ChildProcess): void {
  try {
    process.kill(-(child.pid as number), 'SIGTERM');
  } catch {
    // gone
  }
}

async function stopAll(servers: Running[]): Promise<void> {
  for (const s of servers) kill(s.child);
  await Promise.all(servers.map((s) => (s.child.exitCode !== null || s.child.signalCode !== null ? undefined : new Promise((r) => s.child.once('exit', r)))));
}

/**
 * CPU seconds of the server's whole tree: for every process in it (taken
 * when no connection is open: the resident ones), its own and what it
 * reaped (utime+stime+cutime+cstime). So the listener and its reaped
 * children, a spawner of progs that lives as long as the server (ours with
 * a python3: the progs are its children) and its reaped progs, and, under
 * the subreaper, the orphans the wrapper reaped.
 */
function cpuOf(s: Running): number {
  if (!s.resident.every(alive)) return NaN; // a part of the server is gone: no figure
  try {
    return processTree(s.top).reduce((sum, pid) => sum + treeCpu(pid), 0);
  } catch {
    return NaN;
  }
}

function alive(pid: number): boolean {
  return existsSync(`/proc/${pid}/stat`);
}

/** Every connection's processes gone and reaped (up to 5 s): only the resident ones left. */
async function quiet(s: Running): Promise<void> {
  const busy = (): boolean => processTree(s.top).some((pid) => !s.resident.includes(pid));
  for (let i = 0; i < 500 && busy(); i++) await sleep(10);
}

/** PSS (KiB) of the server's tree, with and without the processes that are prog. */
function treePss(s: Running, progExe: string): { all: number; noProg: number } {
  let all = 0;
  let noProg = 0;
  for (const pid of processTree(s.top)) {
    if (pid === s.top && s.top !== s.main) continue; // the wrapper is the bench's, not the server's
    const pss = memoryOf(pid)?.pssKiB ?? 0;
    all += pss;
    let exe = '';
    try {
      exe = readlinkSync(`/proc/${pid}/exe`);
    } catch {
      // gone
    }
    if (exe !== progExe) noProg += pss;
  }
  return { all, noProg };
}

// ---------------------------------------------------------------- the load generator

class Load {
  private child: ChildProcess;
  private waiting: ((r: LoadReport) => void)[] = [];
  constructor(caFile: string) {
    this.child = fork(join(__dirname, 'loadgen.js'), [caFile], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
    this.child.on('message', (r: LoadReport) => this.waiting.shift()?.(r));
    this.child.on('exit', () => {
      for (const w of this.waiting.splice(0)) w({ ok: 0, wallMs: 0, error: 'the load generator died' });
    });
  }
  run(order: LoadOrder): Promise<LoadReport> {
    return new Promise((resolve) => {
      this.waiting.push(resolve);
      this.child.send(order);
    });
  }
  close(): void {
    this.child.disconnect();
  }
}

// ---------------------------------------------------------------- the run

export interface TlsServerRow {
  key: string;
  label: string;
  /** why the row has no figures at all */
  missing?: string;
  /** per concurrency level, NaN when failed */
  connPerSec: number[];
  cpuMsPerConn: number[];
  upCpuPerGiB: number;
  downCpuPerGiB: number;
  /** KiB per idle connection */
  idlePss: number;
  idlePssNoProg: number;
  /** per pattern: why there is no figure */
  notes: string[];
  /** protocol and cipher suite the client got */
  tls?: string;
}

export interface TlsServerResult {
  rows: TlsServerRow[];
  /** what prog answered the short connections */
  shortProg: string;
  /** whether the servers ran under the subreaper (orphans' CPU counted) */
  subreaper: boolean;
}

const figure = (xs: number[]): number => (xs.length === 0 || xs.some(Number.isNaN) ? NaN : median(xs));

export async function tlsServerBench(pki: Pki, basePort: number, plan: TlsServerPlan, log: (s: string) => void): Promise<TlsServerResult> {
  const refBin = process.env.REF_BIN;
  const all = candidates(pki, refBin);
  const echo16 = compile(pki.dir, 'echo16', ECHO16_C, log);
  const subreaper = compile(pki.dir, 'subreaper', SUBREAPER_C, log);
  if (!subreaper) log('no subreaper: the C chain\'s s6-tlsd-io, orphaned when prog exits, is missing from its CPU figures');
  const shortProg = echo16 ? [echo16] : [which('head'), '-c', '16'];
  const cat = which('cat');
  const load = new Load(pki.caFile);
  const raw = new Map(all.map((c) => [c.key, { rate: plan.levels.map((): number[] => []), cpu: plan.levels.map((): number[] => []), up: [] as number[], down: [] as number[], pss: NaN, pssNoProg: NaN, notes: [] as string[], started: false, tls: undefined as string | undefined }]));
  const note = (key: string, text: string): void => {
    const r = raw.get(key)!;
    if (!r.notes.includes(text)) r.notes.push(text);
  };
  /** the first reason a server could not start, for a row with no figure at all */
  const unstarted = new Map<string, string>();

  /** Starts every server for one pattern; the ones that cannot start are noted and left out. */
  const startAll = async (pattern: string, offset: number, prog: string[]): Promise<Running[]> => {
    const up: Running[] = [];
    for (const [i, c] of all.entries()) {
      const s = await start(c, basePort + offset + i, prog, pki, subreaper);
      if (typeof s === 'string') {
        log(`${c.label}: not available for ${pattern}: ${s}`);
        note(c.key, `${pattern}: not available (${s})`);
        if (!unstarted.has(c.key)) unstarted.set(c.key, s);
      } else {
        raw.get(c.key)!.started = true;
        up.push(s);
      }
    }
    return up;
  };

  try {
    // ---- short connections
    let servers = await startAll('short', 0, shortProg);
    try {
      // Warm-up, not counted: a few connections each (a long-lived server's first ones load code).
      for (const s of servers) {
        const r = await load.run({ op: 'short', port: s.port, concurrency: 4, count: 8, request: REQUEST.toString('latin1') });
        if (r.error) log(`${s.c.label}: warm-up: ${r.error}`);
        raw.get(s.c.key)!.tls = r.tls;
      }
      for (let round = 0; round < plan.rounds; round++) {
        for (const s of rotated(servers, round)) {
          const f = raw.get(s.c.key)!;
          for (const [li, level] of plan.levels.entries()) {
            await quiet(s);
            const cpu0 = cpuOf(s);
            const r = await load.run({ op: 'short', port: s.port, concurrency: level.concurrency, count: level.count, request: REQUEST.toString('latin1') });
            await quiet(s);
            const cpu = cpuOf(s) - cpu0;
            if (r.error || r.ok !== level.count || Number.isNaN(cpu)) {
              const why = r.error ?? (Number.isNaN(cpu) ? 'the server exited' : `${r.ok} of ${level.count}`);
              log(`${s.c.label} failed at concurrency ${level.concurrency}: ${why}${s.stderr() ? ` (stderr: ${s.stderr()})` : ''}`);
              note(s.c.key, `short c=${level.concurrency}: failed (${why})`);
              f.rate[li].push(NaN);
              f.cpu[li].push(NaN);
              continue;
            }
            f.rate[li].push(r.ok / (r.wallMs / 1000));
            f.cpu[li].push((cpu / r.ok) * 1000);
          }
        }
        log(`tlsserver short: round ${round + 1}/${plan.rounds}`);
      }
    } finally {
      await stopAll(servers);
    }

    // ---- bulk, each way
    for (const [pattern, offset, prog] of [
      ['up', 8, [which('wc'), '-c']],
      ['down', 16, [which('head'), '-c', String(plan.bulkBytes), '/dev/zero']],
    ] as [('up' | 'down'), number, string[]][]) {
      servers = await startAll(pattern, offset, prog);
      try {
        for (let round = 0; round < plan.rounds; round++) {
          for (const s of rotated(servers, round)) {
            const f = raw.get(s.c.key)!;
            await quiet(s);
            const cpu0 = cpuOf(s);
            const r = await load.run({ op: pattern, port: s.port, bytes: plan.bulkBytes });
            await quiet(s);
            const cpu = cpuOf(s) - cpu0;
            const why = r.error ?? (Number.isNaN(cpu) ? 'the server exited' : undefined);
            if (why) {
              log(`${s.c.label} failed the ${pattern} transfer: ${why}`);
              note(s.c.key, `${pattern}: failed (${why})`);
            }
            (pattern === 'up' ? f.up : f.down).push(why ? NaN : cpu / (plan.bulkBytes / GiB));
          }
          log(`tlsserver ${pattern}: round ${round + 1}/${plan.rounds}`);
        }
      } finally {
        await stopAll(servers);
      }
    }

    // ---- idle connections: PSS of the whole tree, minus the same with none
    servers = await startAll('idle', 24, [cat]);
    try {
      for (const s of servers) {
        const f = raw.get(s.c.key)!;
        // Two connections first, closed: what a long-lived server loads on its first one is in the baseline.
        await load.run({ op: 'hold', port: s.port, count: 2 });
        await load.run({ op: 'release' });
        await quiet(s);
        await sleep(200);
        const base = treePss(s, cat);
        const r = await load.run({ op: 'hold', port: s.port, count: plan.idle });
        await sleep(200);
        const held = treePss(s, cat);
        await load.run({ op: 'release' });
        await quiet(s);
        if (r.error || r.ok !== plan.idle || s.child.exitCode !== null || s.child.signalCode !== null) {
          log(`${s.c.label} failed to hold ${plan.idle} idle connections: ${r.error ?? `${r.ok} held`}`);
          note(s.c.key, `idle: failed (${r.error ?? `${r.ok} of ${plan.idle}`})`);
          continue;
        }
        f.pss = (held.all - base.all) / plan.idle;
        f.pssNoProg = (held.noProg - base.noProg) / plan.idle;
        log(`${s.c.label}: ${plan.idle} idle connections, PSS ${(f.pss / 1024).toFixed(2)} MiB each with prog, ${(f.pssNoProg / 1024).toFixed(2)} without (tree: ${(base.all / 1024).toFixed(1)} -> ${(held.all / 1024).toFixed(1)} MiB)`);
      }
    } finally {
      await stopAll(servers);
    }
  } finally {
    load.close();
  }

  const rows = all.map((c): TlsServerRow => {
    const f = raw.get(c.key)!;
    return {
      key: c.key,
      label: c.label,
      missing: f.started ? undefined : (unstarted.get(c.key) ?? 'did not start'),
      connPerSec: f.rate.map(figure),
      cpuMsPerConn: f.cpu.map(figure),
      upCpuPerGiB: figure(f.up),
      downCpuPerGiB: figure(f.down),
      idlePss: f.pss,
      idlePssNoProg: f.pssNoProg,
      notes: f.notes,
      tls: f.tls,
    };
  });
  return { rows, shortProg: echo16 ? 'a tiny C program, compiled at bench time' : '`head -c 16`: no cc', subreaper: subreaper !== undefined };
}

/** Each round starts one place further down the list. */
function rotated<T>(xs: T[], round: number): T[] {
  const k = xs.length ? round % xs.length : 0;
  return [...xs.slice(k), ...xs.slice(0, k)];
}

// ---------------------------------------------------------------- the table

export function tlsServerTable({ rows, shortProg, subreaper }: TlsServerResult, plan: TlsServerPlan, quick: boolean): string[] {
  const ours = rows.find((r) => r.key === 'ours')!;
  const peers = rows.filter((r) => r.key !== 'ours' && !r.missing);
  const best = (pick: (r: TlsServerRow) => number, higher: boolean): number => {
    const values = peers.map(pick).filter(Number.isFinite);
    return values.length === 0 ? NaN : higher ? Math.max(...values) : Math.min(...values);
  };
  const shown = (v: number, digits: number): string => (Number.isFinite(v) ? v.toFixed(digits) : 'failed');
  const ratio = (v: number, b: number): string => (Number.isFinite(v / b) ? `${(v / b).toFixed(2)}x` : 'n/a');
  const levels = plan.levels.map((l) => l.concurrency);
  const columns: { head: string; pick: (r: TlsServerRow) => number; digits: number; higher: boolean }[] = [
    ...levels.map((c, i) => ({ head: `conn/s c=${c}`, pick: (r: TlsServerRow) => r.connPerSec[i], digits: 1, higher: true })),
    ...levels.map((c, i) => ({ head: `CPU ms/conn c=${c}`, pick: (r: TlsServerRow) => r.cpuMsPerConn[i], digits: 2, higher: false })),
    { head: 'up CPU s/GiB', pick: (r) => r.upCpuPerGiB, digits: 2, higher: false },
    { head: 'down CPU s/GiB', pick: (r) => r.downCpuPerGiB, digits: 2, higher: false },
    { head: 'PSS KiB/idle conn, with prog', pick: (r) => r.idlePss, digits: 0, higher: false },
    { head: 'without prog', pick: (r) => r.idlePssNoProg, digits: 0, higher: false },
  ];
  const L: string[] = [];
  L.push(`## s6-tlsserver: one long-lived process against a process (or more) per connection${quick ? ' (--quick)' : ''}`);
  L.push('');
  L.push(`${plan.rounds} rounds, servers alternating. Short: handshake (full, no resumption), 16 bytes up, the same 16 back from prog (${shortProg}), close; ${plan.levels.map((l) => `${l.count} connections at concurrency ${l.concurrency}`).join(', ')} per round. Bulk: ${plan.bulkBytes / MiB} MiB each way per round (prog \`wc -c\` / \`head -c\`). Idle: ${plan.idle} connections held open, prog \`cat\` waiting. CPU is the server's whole process tree (listener and every reaped descendant${subreaper ? ', orphans included: every server runs under a subreaper' : '; no cc, so no subreaper: the C chain\'s s6-tlsd-io, orphaned when prog exits, is not counted'}); PSS is summed over the whole tree with ${plan.idle} connections minus with none, per connection. One client for all: Node's TLS in a separate load-generator process.`);
  L.push('');
  L.push(`| server | ${columns.map((c) => c.head).join(' | ')} |`);
  L.push(`|---|${columns.map(() => '---:').join('|')}|`);
  for (const r of rows) {
    if (r.missing) {
      L.push(`| ${r.label} | not available (${r.missing.replace(/\|/g, '/')}) |${columns.slice(1).map(() => '').join(' |')} |`);
      continue;
    }
    L.push(`| ${r.label} | ${columns.map((c) => shown(c.pick(r), c.digits)).join(' | ')} |`);
  }
  if (!ours.missing) L.push(`| **ours / best peer** | ${columns.map((c) => ratio(c.pick(ours), best(c.pick, c.higher))).join(' | ')} |`);
  L.push('');
  L.push(`Negotiated with the client: ${rows.filter((r) => r.tls).map((r) => `${r.label} ${r.tls}`).join('; ')}.`);
  L.push('');
  const c = rows.find((r) => r.key === 'c' && !r.missing);
  if (ours.missing) {
    L.push(`Targets not judged: ours is not available (${ours.missing}).`);
  } else {
    /** PASS or FAIL; FAIL when ours failed, n/a when there is no peer's figure. */
    const judged = (v: number, b: number, ok: boolean): string => (!Number.isFinite(v) ? 'FAIL (no figure)' : !Number.isFinite(b) ? 'n/a' : ok ? 'PASS' : 'FAIL');
    const lines: string[] = [];
    levels.forEach((lv, i) => {
      const b = best((r) => r.connPerSec[i], true);
      lines.push(`connections/s at concurrency ${lv} >= best peer's: ${shown(ours.connPerSec[i], 1)} vs ${shown(b, 1)}: ${judged(ours.connPerSec[i], b, ours.connPerSec[i] >= b)}`);
      const bc = best((r) => r.cpuMsPerConn[i], false);
      lines.push(`CPU per connection at concurrency ${lv} <= best peer's: ${shown(ours.cpuMsPerConn[i], 2)} vs ${shown(bc, 2)} ms: ${judged(ours.cpuMsPerConn[i], bc, ours.cpuMsPerConn[i] <= bc)}`);
    });
    if (c) {
      lines.push(`PSS per idle connection <= the C chain's, with prog: ${shown(ours.idlePss, 0)} vs ${shown(c.idlePss, 0)} KiB: ${judged(ours.idlePss, c.idlePss, ours.idlePss <= c.idlePss)}`);
      lines.push(`PSS per idle connection <= the C chain's, without prog: ${shown(ours.idlePssNoProg, 0)} vs ${shown(c.idlePssNoProg, 0)} KiB: ${judged(ours.idlePssNoProg, c.idlePssNoProg, ours.idlePssNoProg <= c.idlePssNoProg)}`);
    } else {
      lines.push('PSS per idle connection against the C chain: not judged (no REF_BIN with the C s6-tlsserver)');
    }
    L.push('Targets:');
    L.push('');
    for (const l of lines) L.push(`- ${l}`);
  }
  const notes = rows.flatMap((r) => r.notes.filter((n) => !r.missing || !n.includes('not available')).map((n) => `${r.label}: ${n}`));
  if (notes.length > 0) {
    L.push('');
    L.push('Failures (a server that fails a connection gets no figure for that column):');
    L.push('');
    for (const n of notes) L.push(`- ${n.replace(/\|/g, '/')}`);
  }
  return L;
}

/** The table as a file: bench/results-tlsserver.md with --update-committed, bench/out/ otherwise. */
export function writeTlsServerResults(lines: string[], updateCommitted: boolean, quick: boolean, seconds: number): string {
  const m = machineFacts(false);
  const text = [
    `# s6-tlsserver benchmark${quick ? ' (--quick)' : ''}`,
    '',
    `\`npm run bench -- --tlsserver${quick ? ' --quick' : ''}\`${process.env.REF_BIN ? ' with REF_BIN (the C s6-tlsserver)' : ''}, ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC, ${(seconds / 60).toFixed(1)} min.`,
    '',
    `Machine: ${m.cpu}, ${m.cores} cores, Linux ${m.kernel}; Node ${m.node} (OpenSSL ${m.nodeOpenssl}); ${m.socat}; ${m.stunnel}. Load average at the end (1, 5, 15 min): ${readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(', ')}: other work on the machine shares its cores with the servers and the client.`,
    '',
    ...lines,
    '',
  ].join('\n');
  const dir = updateCommitted ? join(REPO, 'bench') : join(REPO, 'bench', 'out');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, 'results-tlsserver.md');
  writeFileSync(file, text);
  return file;
}
