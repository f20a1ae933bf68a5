// What the benchmark needs around it: peer programs from Debian, throwaway
// certificates, the C TLS servers (socat) on 127.0.0.1, machine facts, and
// process runs timed with their CPU time and peak RSS, and memory read from
// /proc while they run.

import { execFileSync, spawn, spawnSync, ChildProcess, StdioOptions } from 'child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync, existsSync } from 'fs';
import { connect, Socket } from 'net';
import { connect as tlsConnect, ConnectionOptions, TLSSocket } from 'tls';
import { cpus, tmpdir } from 'os';
import { dirname, join } from 'path';

export const REPO = join(__dirname, '..', '..');
export const BIN = join(REPO, 'bin', 's6-tlsc-io');
/**
 * A second Node to run ours on (the launcher finds `node` on PATH): NODE26, or
 * the one scripts/node26.sh keeps in the user's cache (fetched once); empty
 * when there is none (no registry), and the bench runs ours on one Node.
 */
let node26Found: string | undefined;

/**
 * Asked when first needed, not when this module loads: the server parts and
 * the load generator import this module and have no use for a second Node
 * (node26.sh may fetch one).
 */
export function node26Path(): string {
  return (node26Found ??= spawnSync('sh', [join(REPO, 'scripts', 'node26.sh')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }).stdout.trim());
}

export function node26(): { node: string; binDir: string } | undefined {
  const node = node26Path();
  return node !== '' && existsSync(node) ? { node, binDir: dirname(node) } : undefined;
}

// ---------------------------------------------------------------- installs

function have(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}

/** Installs the Debian packages whose command is missing; `apt-get update` only if the first try fails. */
export function ensureCommands(wanted: { cmd: string; pkg: string }[], log: (s: string) => void): void {
  const missing = wanted.filter((w) => !have(w.cmd));
  if (missing.length === 0) return;
  const pkgs = [...new Set(missing.map((m) => m.pkg))];
  log(`installing from Debian: ${pkgs.join(' ')}`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const install = (): boolean => spawnSync('apt-get', ['install', '-y', '--no-install-recommends', ...pkgs], { stdio: 'ignore', env }).status === 0;
  if (!install()) {
    spawnSync('apt-get', ['update'], { stdio: 'ignore', env });
    if (!install()) throw new Error(`could not install ${pkgs.join(' ')} (apt-get install failed)`);
  }
  for (const m of missing) if (!have(m.cmd)) throw new Error(`${m.cmd} still missing after installing ${m.pkg}`);
}

// ---------------------------------------------------------------- certificates

export interface Pki {
  dir: string;
  caFile: string;
  certFile: string;
  keyFile: string;
  /** /etc/ssl/certs plus our CA under its hash: the ~290 entries of a real CADIR */
  bigCaDir: string;
  cleanup(): void;
}

function openssl(args: string[]): string {
  return execFileSync('openssl', args, { stdio: ['ignore', 'pipe', 'pipe'] }).toString();
}

export function makePki(): Pki {
  const dir = mkdtempSync(join(tmpdir(), 's6-tlsc-io-bench-'));
  const p = (n: string): string => join(dir, n);
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
  openssl(['req', '-x509', ...ec, '-keyout', p('ca.key'), '-out', p('ca.pem'), '-days', '30', '-subj', '/CN=s6-tlsc-io bench CA',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
  openssl(['req', ...ec, '-keyout', p('server.key'), '-out', p('server.csr'), '-subj', '/CN=localhost']);
  writeFileSync(p('server.ext'), 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n');
  openssl(['x509', '-req', '-in', p('server.csr'), '-CA', p('ca.pem'), '-CAkey', p('ca.key'), '-CAcreateserial', '-days', '30',
    '-out', p('server.pem'), '-extfile', p('server.ext')]);
  // A CADIR as big as the system's, where our CA is one anchor among ~290 entries.
  const bigCaDir = p('cadir');
  execFileSync('mkdir', [bigCaDir]);
  const system = '/etc/ssl/certs';
  if (existsSync(system)) for (const name of readdirSync(system)) symlinkSync(join(system, name), join(bigCaDir, name));
  const hash = openssl(['x509', '-noout', '-subject_hash', '-in', p('ca.pem')]).trim();
  let n = 0;
  while (existsSync(join(bigCaDir, `${hash}.${n}`))) n++;
  symlinkSync(p('ca.pem'), join(bigCaDir, `${hash}.${n}`));
  return {
    dir,
    caFile: p('ca.pem'),
    certFile: p('server.pem'),
    keyFile: p('server.key'),
    bigCaDir,
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}

// ---------------------------------------------------------------- servers

/**
 * A server's environment: PATH and the key pair, nothing else, as a
 * supervision tree gives it. Not the caller's: a NODE_EXTRA_CA_CERTS there
 * (some machines set it to the system bundle) makes every Node start-up parse
 * ~140 certificates, about 40 ms of CPU, which a server per connection would
 * pay per connection.
 */
export function serverEnv(pki: Pki, path = process.env.PATH ?? '/usr/bin:/bin'): NodeJS.ProcessEnv {
  return { PATH: path, KEYFILE: pki.keyFile, CERTFILE: pki.certFile };
}

export type ServerKind = 'short' | 'sink' | 'source' | 'echo';

export interface Servers {
  port: Record<ServerKind, number>;
  /** the listener's process id: its reaped children's CPU time is in its /proc stat */
  pid: Record<ServerKind, number>;
  stop(): Promise<void>;
}

export function waitListening(port: number, deadline: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const attempt = (): void => {
      const s = connect({ port, host: '127.0.0.1' });
      s.once('connect', () => {
        s.destroy();
        resolve();
      });
      s.once('error', () => {
        s.destroy();
        if (Date.now() > deadline) reject(new Error(`server on port ${port} did not start`));
        else setTimeout(attempt, 20);
      });
    };
    attempt();
  });
}

/**
 * One C TLS server (socat, forking per connection) per traffic pattern, all
 * on 127.0.0.1: `short` answers the 16-byte request with the same 16 bytes
 * and closes; `sink` swallows an upload; `source` sends `bulkBytes` and
 * closes; `echo` sends everything back.
 */
export async function startServers(pki: Pki, basePort: number, bulkBytes: number): Promise<Servers> {
  const tls = `bind=127.0.0.1,reuseaddr,fork,backlog=1024,cert=${pki.certFile},key=${pki.keyFile},verify=0`;
  const kinds: { kind: ServerKind; args: (port: number) => string[] }[] = [
    { kind: 'short', args: (port) => [`OPENSSL-LISTEN:${port},${tls}`, 'EXEC:head -c 16'] },
    { kind: 'sink', args: (port) => ['-u', '-b', '262144', `OPENSSL-LISTEN:${port},${tls}`, 'OPEN:/dev/null,wronly'] },
    { kind: 'source', args: (port) => ['-U', '-b', '262144', `OPENSSL-LISTEN:${port},${tls}`, `OPEN:/dev/zero,rdonly,readbytes=${bulkBytes}`] },
    { kind: 'echo', args: (port) => ['-t', '60', '-b', '131072', `OPENSSL-LISTEN:${port},${tls}`, 'PIPE'] },
  ];
  const children: ChildProcess[] = [];
  const port = {} as Record<ServerKind, number>;
  const pid = {} as Record<ServerKind, number>;
  kinds.forEach((k, i) => {
    port[k.kind] = basePort + i;
    const child = spawn('socat', k.args(basePort + i), { stdio: 'ignore', detached: true });
    children.push(child);
    pid[k.kind] = child.pid ?? 0;
  });
  const deadline = Date.now() + 5000;
  await Promise.all(Object.values(port).map((p) => waitListening(p, deadline)));
  return {
    port,
    pid,
    stop: async () => {
      // Each listener leads its own process group: its forked children go too.
      for (const c of children) {
        if (c.exitCode !== null || c.pid === undefined) continue;
        try {
          process.kill(-c.pid, 'SIGTERM');
        } catch {
          // already gone
        }
      }
      await Promise.all(children.map((c) => (c.exitCode !== null || c.signalCode !== null ? undefined : new Promise((r) => c.once('exit', r)))));
    },
  };
}

// ---------------------------------------------------------------- machine

export interface Machine {
  cpu: string;
  cores: number;
  node: string;
  nodeOpenssl: string;
  /** 'v26.x (OpenSSL 3.5.x)' when NODE26 is there */
  node26?: string;
  systemOpenssl: string;
  socat: string;
  stunnel: string;
  kernel: string;
}

function firstLine(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  const text = `${r.stdout ?? ''}\n${r.stderr ?? ''}`;
  return text.split('\n').map((l) => l.trim()).filter(Boolean)[0] ?? '?';
}

/** `secondNode`: also ask for the second Node's version (node26.sh may fetch it). */
export function machineFacts(secondNode = true): Machine {
  const model = /model name\s*:\s*(.*)/.exec(readFileSync('/proc/cpuinfo', 'utf8'));
  const socatLine = spawnSync('socat', ['-V'], { encoding: 'utf8' }).stdout.split('\n').find((l) => /socat version/.test(l)) ?? '?';
  return {
    cpu: model ? model[1].trim() : (cpus()[0]?.model ?? '?'),
    cores: cpus().length,
    node: process.version,
    nodeOpenssl: process.versions.openssl,
    node26: secondNode && node26() ? firstLine(node26Path(), ['-p', '`${process.version} (OpenSSL ${process.versions.openssl})`']) : undefined,
    systemOpenssl: firstLine('openssl', ['version']),
    socat: socatLine.replace(/ on .*/, '').trim(),
    stunnel: (spawnSync('stunnel', ['-version'], { encoding: 'utf8' }).stderr.split('\n').find((l) => /^stunnel/.test(l)) ?? '?').replace(/ on .*/, ''),
    kernel: firstLine('uname', ['-r']),
  };
}

// ---------------------------------------------------------------- process runs

export interface Command {
  /** argv[0] is the executable */
  argv: string[];
  env?: NodeJS.ProcessEnv;
  /** put a fresh TCP connection to this port at fds 6 and 7 (tcpclient style) */
  socketPort?: number;
}

export interface RunSpec {
  cmd: Command;
  /** standard input: bytes to write then close, a readable stream's fd, or a regular file opened for reading */
  stdin: { bytes: Buffer } | { from: ChildProcess } | { file: string };
  /** standard output: collected, or only counted */
  stdout: 'collect' | 'count';
  /** run under the rusage wrapper: CPU time, peak RSS and the child's own wall time */
  usage?: boolean;
  timeoutMs?: number;
}

export interface Usage {
  /** user and system CPU seconds of the process (and any child it waited for) */
  user: number;
  sys: number;
  /** peak RSS in KiB */
  maxRssKiB: number;
  /** from its fork to its exit, without the wrapper's own start-up */
  wallMs: number;
}

export interface RunResult {
  /** from before the TCP connect (if any) to exit, as the caller sees it */
  ms: number;
  code: number | null;
  stdout: Buffer;
  /** bytes seen on stdout */
  outBytes: number;
  usage?: Usage;
  stderr: string;
}

// wait4() gives CPU time to the microsecond (GNU time prints hundredths)
// and the peak RSS; the wrapper's own start-up is outside what it reports.
const RUSAGE_WRAPPER = `
import os, sys, time
out = sys.argv[1]
t0 = time.monotonic()
pid = os.fork()
if pid == 0:
    try:
        os.execvp(sys.argv[2], sys.argv[2:])
    finally:
        os._exit(127)
_, status, ru = os.wait4(pid, 0)
wall = time.monotonic() - t0
with open(out, 'w') as f:
    f.write('%.6f %.6f %d %.3f\\n' % (ru.ru_utime, ru.ru_stime, ru.ru_maxrss, wall * 1000))
sys.exit(os.waitstatus_to_exitcode(status) & 255 if os.WIFEXITED(status) else 128 + os.WTERMSIG(status))
`;

const PYTHON = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
let usageSeq = 0;

function wrapForUsage(argv: string[], workDir: string): { argv: string[]; read: () => Usage | undefined } {
  const script = join(workDir, 'rusage.py');
  if (!existsSync(script)) writeFileSync(script, RUSAGE_WRAPPER);
  const file = join(workDir, `usage.${process.pid}.${usageSeq++}`);
  return {
    argv: [PYTHON, script, file, ...argv],
    read: () => {
      try {
        const [user, sys, maxRssKiB, wallMs] = readFileSync(file, 'utf8').trim().split(' ').map(Number);
        rmSync(file, { force: true });
        return { user, sys, maxRssKiB, wallMs };
      } catch {
        return undefined;
      }
    },
  };
}

function connectTo(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect({ port, host: '127.0.0.1' });
    s.once('error', reject);
    s.once('connect', () => resolve(s));
  });
}

interface Started {
  child: ChildProcess;
  started: bigint;
  readUsage?: () => Usage | undefined;
}

/**
 * Spawns one command; the clock starts before the TCP connect (for the
 * programs that get a socket). The parent's copy of the socket is closed in
 * the spawn tick, so the parent never touches the connection.
 */
async function start(cmd: Command, stdin: ChildProcess | number | undefined, usage: boolean, workDir: string): Promise<Started> {
  const started = process.hrtime.bigint();
  const socket = cmd.socketPort !== undefined ? await connectTo(cmd.socketPort) : undefined;
  const stdio: StdioOptions = [stdin === undefined ? 'pipe' : typeof stdin === 'number' ? stdin : stdin.stdout!, 'pipe', 'pipe'];
  if (socket) stdio.push('ignore', 'ignore', 'ignore', socket, socket);
  let argv = cmd.argv;
  let readUsage: (() => Usage | undefined) | undefined;
  if (usage) ({ argv, read: readUsage } = wrapForUsage(argv, workDir));
  const child = spawn(argv[0], argv.slice(1), { stdio, env: cmd.env ?? { PATH: process.env.PATH } });
  socket?.destroy();
  if (typeof stdin === 'number') closeSync(stdin);
  else stdin?.stdout?.destroy();
  child.stdin?.on('error', () => undefined);
  return { child, started, readUsage };
}

/** Resolves with the exit code once the process has exited and its stdout and stderr are read to the end. */
function finished(child: ChildProcess, timeoutMs: number): Promise<number | null> {
  return new Promise<number | null>((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    let exited: number | null | undefined;
    let closed = false;
    const done = (): void => {
      if (exited === undefined || !closed) return;
      clearTimeout(timer);
      resolve(exited);
    };
    child.once('exit', (c) => {
      exited = c;
      child.stdin?.destroy();
      done();
    });
    child.once('close', () => {
      closed = true;
      done();
    });
  });
}

function collect(child: ChildProcess, keep: boolean): { out: () => Buffer; bytes: () => number; err: () => string; onData: (f: () => void) => void } {
  const chunks: Buffer[] = [];
  let bytes = 0;
  let stderr = '';
  let listener = (): void => undefined;
  child.stdout!.on('data', (c: Buffer) => {
    bytes += c.length;
    if (keep) chunks.push(c);
    listener();
  });
  child.stderr!.on('data', (c: Buffer) => {
    if (stderr.length < 4096) stderr += c.toString();
  });
  return { out: () => Buffer.concat(chunks), bytes: () => bytes, err: () => stderr.trim(), onData: (f) => (listener = f) };
}

/** Runs one command to its exit. */
export async function runOnce(spec: RunSpec, workDir: string): Promise<RunResult> {
  const stdin = 'from' in spec.stdin ? spec.stdin.from : 'file' in spec.stdin ? openSync(spec.stdin.file, 'r') : undefined;
  const { child, started, readUsage } = await start(spec.cmd, stdin, !!spec.usage, workDir);
  const io = collect(child, spec.stdout === 'collect');
  if ('bytes' in spec.stdin) child.stdin?.end(spec.stdin.bytes);
  const code = await finished(child, spec.timeoutMs ?? 120_000);
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  return { ms, code, stdout: io.out(), outBytes: io.bytes(), usage: readUsage?.(), stderr: io.err() };
}

export interface HeldTunnel {
  pid: number;
  /** resolves once `payload.length` bytes came back (or the process ended first) */
  echoed: Promise<boolean>;
  /** closes stdin and waits for the exit; a process still there after `graceMs` is killed */
  finish(graceMs?: number): Promise<RunResult>;
}

/**
 * Starts a tunnel to an echo server, writes `payload` and keeps stdin open,
 * so that its memory can be read from /proc while it is connected and has
 * carried traffic.
 */
export async function startHeldTunnel(cmd: Command, payload: Buffer, workDir: string): Promise<HeldTunnel> {
  const { child, started } = await start(cmd, undefined, false, workDir);
  const io = collect(child, true);
  const exit = finished(child, 180_000);
  const echoed = new Promise<boolean>((resolve) => {
    io.onData(() => {
      if (io.bytes() >= payload.length) resolve(true);
    });
    void exit.then(() => resolve(io.bytes() >= payload.length));
  });
  child.stdin?.write(payload);
  return {
    pid: child.pid ?? 0,
    echoed,
    finish: async (graceMs?: number) => {
      child.stdin?.end();
      const kill = graceMs === undefined ? undefined : setTimeout(() => child.kill('SIGTERM'), graceMs);
      const code = await exit;
      if (kill) clearTimeout(kill);
      return { ms: Number(process.hrtime.bigint() - started) / 1e6, code, stdout: io.out(), outBytes: io.bytes(), stderr: io.err() };
    },
  };
}

// ---------------------------------------------------------------- /proc

export interface Memory {
  rssKiB: number;
  /** proportional set: shared pages divided among the processes mapping them */
  pssKiB: number;
  /** pages no other process maps */
  privateKiB: number;
  /** of those, the ones written to (heap, stacks, buffers): what each further process adds */
  privateDirtyKiB: number;
  /** peak RSS so far */
  hwmKiB: number;
}

/** Memory of a running process, from /proc/PID/smaps_rollup and status (Linux 4.14+). */
export function memoryOf(pid: number): Memory | undefined {
  try {
    const rollup = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (text: string, key: string): number => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? NaN);
    return {
      rssKiB: kb(rollup, 'Rss'),
      pssKiB: kb(rollup, 'Pss'),
      privateKiB: kb(rollup, 'Private_Clean') + kb(rollup, 'Private_Dirty'),
      privateDirtyKiB: kb(rollup, 'Private_Dirty'),
      hwmKiB: kb(status, 'VmHWM'),
    };
  } catch {
    return undefined;
  }
}

const CLK_TCK = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;

function childrenOf(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim();
  } catch {
    return '';
  }
}

/**
 * CPU seconds of the children a server process has reaped so far (a forking
 * listener: one child per connection), after waiting (up to a second) for
 * the children still there to be reaped. Clock-tick resolution (10 ms).
 */
export async function reapedChildrenCpu(pid: number): Promise<number> {
  for (let i = 0; i < 100 && childrenOf(pid) !== ''; i++) await new Promise((r) => setTimeout(r, 10));
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // after the command name: state is field 3, cutime 16, cstime 17
    return (Number(fields[13]) + Number(fields[14])) / CLK_TCK;
  } catch {
    return NaN;
  }
}

// ---------------------------------------------------------------- server process trees

/** utime+stime+cutime+cstime of a process (its own and its reaped descendants'), in seconds. */
export function treeCpu(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14])) / CLK_TCK;
}

/** The children of every thread of a process (a threaded server forks from any of them). */
export function childPids(pid: number): number[] {
  let tasks: string[];
  try {
    tasks = readdirSync(`/proc/${pid}/task`);
  } catch {
    return [];
  }
  const out: number[] = [];
  for (const t of tasks) {
    try {
      for (const c of readFileSync(`/proc/${pid}/task/${t}/children`, 'utf8').trim().split(/\s+/)) if (c !== '') out.push(Number(c));
    } catch {
      // the thread ended
    }
  }
  return out;
}

/** A process and all its descendants, from /proc/PID/task/*\/children. */
export function processTree(pid: number): number[] {
  const seen: number[] = [];
  const todo = [pid];
  while (todo.length > 0) {
    const p = todo.pop() as number;
    if (seen.includes(p)) continue;
    seen.push(p);
    todo.push(...childPids(p));
  }
  return seen;
}

/**
 * Waits (up to 5 s) until none of `pids` has a child other than the ones in
 * `except`: a child's CPU time is in its parent's figures only once reaped.
 */
export async function settled(pids: number[], except: number[] = []): Promise<void> {
  const busy = (): boolean => pids.some((p) => childPids(p).some((c) => !except.includes(c)));
  for (let i = 0; i < 500 && busy(); i++) await new Promise((r) => setTimeout(r, 10));
}

/**
 * One TLS connection as a client: handshake, `send`, everything back until
 * the server's end. Our end goes out after `send` only when prog needs it
 * (a number: the upload, read to its end); otherwise the server's end comes
 * first, then ours (the C s6-tlsd 2.8.0.1 fails on a client's half-close).
 * `expect`: the byte count back, or the very bytes. No session is offered:
 * every connection is a full handshake.
 */
export function exchange(port: number, ca: string, send: Buffer | number, expect: number | Buffer, timeoutMs = 120_000, onSecure?: (s: TLSSocket) => void): Promise<number> {
  return new Promise((resolve, reject) => {
    let got = 0;
    const kept: Buffer[] = [];
    const s = tlsConnect({ host: '127.0.0.1', port, ca, servername: 'localhost', allowHalfOpen: true } as ConnectionOptions, () => {
      onSecure?.(s);
      if (typeof send !== 'number') return void s.write(send);
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
    s.setTimeout(timeoutMs, () => s.destroy(new Error(`no progress for ${timeoutMs} ms`)));
    s.on('data', (c: Buffer) => {
      got += c.length;
      if (typeof expect !== 'number' && got <= expect.length) kept.push(c);
    });
    s.on('end', () => s.end());
    s.on('error', reject);
    s.on('close', () => {
      if (typeof expect === 'number') return got === expect ? resolve(got) : reject(new Error(`${got} bytes back, ${expect} expected`));
      const back = Buffer.concat(kept);
      return got === expect.length && back.equals(expect) ? resolve(got) : reject(new Error(`answer ${JSON.stringify(back.toString('latin1'))} (${got} bytes), ${JSON.stringify(expect.toString('latin1'))} expected`));
    });
  });
}

// ---------------------------------------------------------------- statistics

export function median(xs: number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}
