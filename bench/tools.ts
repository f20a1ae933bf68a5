// What the benchmark needs around it: peer programs from Debian, throwaway
// certificates, the C TLS servers (socat) on 127.0.0.1, machine facts, and
// process runs timed with their peak RSS.

import { execFileSync, spawn, spawnSync, ChildProcess, StdioOptions } from 'child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync, existsSync } from 'fs';
import { connect, Socket } from 'net';
import { cpus, tmpdir } from 'os';
import { join } from 'path';

export const REPO = join(__dirname, '..', '..');
export const BIN = join(REPO, 'bin', 's6-tlsc-io');

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

export type ServerKind = 'short' | 'sink' | 'source' | 'echo';

export interface Servers {
  port: Record<ServerKind, number>;
  stop(): Promise<void>;
}

function waitListening(port: number, deadline: number): Promise<void> {
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
  kinds.forEach((k, i) => {
    port[k.kind] = basePort + i;
    const child = spawn('socat', k.args(basePort + i), { stdio: 'ignore', detached: true });
    children.push(child);
  });
  const deadline = Date.now() + 5000;
  await Promise.all(Object.values(port).map((p) => waitListening(p, deadline)));
  return {
    port,
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

export function machineFacts(): Machine {
  const model = /model name\s*:\s*(.*)/.exec(readFileSync('/proc/cpuinfo', 'utf8'));
  const socatLine = spawnSync('socat', ['-V'], { encoding: 'utf8' }).stdout.split('\n').find((l) => /socat version/.test(l)) ?? '?';
  return {
    cpu: model ? model[1].trim() : (cpus()[0]?.model ?? '?'),
    cores: cpus().length,
    node: process.version,
    nodeOpenssl: process.versions.openssl,
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
  /** standard input: bytes to write then close, a readable stream's fd, or an open pipe we keep until exit */
  stdin: { bytes: Buffer } | { from: ChildProcess } | { holdOpen: true };
  /** standard output: collected, or handed to a sink process started with `sink` */
  stdout: 'collect' | 'count';
  /** wrap in /usr/bin/time to learn the peak RSS */
  rss?: boolean;
  timeoutMs?: number;
}

export interface RunResult {
  ms: number;
  code: number | null;
  stdout: Buffer;
  /** bytes seen on stdout when counted */
  outBytes: number;
  /** peak RSS in KiB (VmHWM at exit), when asked */
  rssKiB?: number;
  stderr: string;
}

let rssSeq = 0;

function connectTo(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect({ port, host: '127.0.0.1' });
    s.once('error', reject);
    s.once('connect', () => resolve(s));
  });
}

/**
 * Runs one command and waits for its exit; the clock starts before the TCP
 * connect (for the programs that get a socket) and stops at exit. The
 * parent's copy of the socket is closed in the spawn tick, so the parent
 * never touches the connection.
 */
export async function runOnce(spec: RunSpec, workDir: string): Promise<RunResult> {
  const started = process.hrtime.bigint();
  const socket = spec.cmd.socketPort !== undefined ? await connectTo(spec.cmd.socketPort) : undefined;
  const stdio: StdioOptions = [
    'from' in spec.stdin ? spec.stdin.from.stdout! : 'pipe',
    'pipe',
    'pipe',
  ];
  if (socket) stdio.push('ignore', 'ignore', 'ignore', socket, socket);
  let argv = spec.cmd.argv;
  let rssFile: string | undefined;
  if (spec.rss) {
    rssFile = join(workDir, `rss.${process.pid}.${rssSeq++}`);
    argv = ['/usr/bin/time', '-f', '%M', '-o', rssFile, ...argv];
  }
  const child = spawn(argv[0], argv.slice(1), { stdio, env: spec.cmd.env ?? { PATH: process.env.PATH } });
  socket?.destroy();
  if ('from' in spec.stdin) spec.stdin.from.stdout?.destroy();
  const chunks: Buffer[] = [];
  let outBytes = 0;
  child.stdout!.on('data', (c: Buffer) => {
    outBytes += c.length;
    if (spec.stdout === 'collect') chunks.push(c);
  });
  let stderr = '';
  child.stderr!.on('data', (c: Buffer) => {
    if (stderr.length < 4096) stderr += c.toString();
  });
  if (child.stdin) {
    child.stdin.on('error', () => undefined);
    if ('bytes' in spec.stdin) child.stdin.end(spec.stdin.bytes);
  }
  const timeoutMs = spec.timeoutMs ?? 120_000;
  const code = await new Promise<number | null>((resolve) => {
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
    // stdout and stderr fully read
    child.once('close', () => {
      closed = true;
      done();
    });
  });
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  let rssKiB: number | undefined;
  if (rssFile) {
    try {
      const text = readFileSync(rssFile, 'utf8').trim().split('\n');
      rssKiB = Number(text[text.length - 1]);
      rmSync(rssFile, { force: true });
    } catch {
      rssKiB = undefined;
    }
  }
  return { ms, code, stdout: Buffer.concat(chunks), outBytes, rssKiB, stderr: stderr.trim() };
}

// ---------------------------------------------------------------- statistics

export function median(xs: number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}
