// npm run bench [-- --quick | --upload] [-- --update-committed]
//
// s6-tlsc-io against its peers, in one run, the contenders alternating
// round by round so that the machine's drift cancels: socat's OPENSSL:
// client, `openssl s_client -quiet`, stunnel in client (inetd) mode, bare
// `node -e 0` as the start-up floor, and ours again on a second Node (NODE26)
// when it is there. One C TLS server (socat, forking) per traffic pattern on
// 127.0.0.1 serves everyone. It measures what a host pays, not only speed:
// the client's own CPU time per GiB each way (with the server's beside it,
// to show the server is not the bottleneck), and memory per tunnel as PSS
// and private pages read from /proc while 1 and 200 tunnels are connected.
// The upload is measured twice: fed through a pipe, and with stdin a
// regular file (a different read path in every client).
// Writes the tables to stdout and to bench/out/results.md, with a bar chart
// of the ratios in bench/out/results.svg (not tracked); the committed
// bench/results.md and results.svg are rewritten only with
// --update-committed (or BENCH_UPDATE_COMMITTED=1).
// --upload: the upload cases alone (ours, ours on the second Node, socat;
// pipe and regular file), a table on stdout, no files written.
// --server: the server part alone (bench/server.ts: s6-tlsd under tcpserver
// against socat and stunnel in server mode), a table on stdout; a full run
// ends with it too.
// --tlsserver: the s6-tlsserver part alone (bench/tlsserver.ts: our one-process
// s6-tlsserver against stunnel, socat, s6-tlsd under tcpserver and the C
// s6-tlsserver of REF_BIN; connections/s and CPU at concurrency 1/16/64, CPU
// per GiB, PSS per idle connection), a table on stdout and in
// bench/out/results-tlsserver.md (bench/results-tlsserver.md with
// --update-committed); a full run ends with it too.

import { randomBytes } from 'crypto';
import { spawn, spawnSync, ChildProcess } from 'child_process';
import { mkdirSync, writeFileSync } from 'fs';
import { join } from 'path';
import {
  BIN, REPO, Command, HeldTunnel, Machine, Memory, Pki, RunResult, Servers,
  ensureCommands, machineFacts, makePki, median, memoryOf, node26, reapedChildrenCpu, runOnce, startHeldTunnel, startServers,
} from './tools';
import { renderChart, Bar } from './chart';
import { serverBench, serverTable, ServerFigures } from './server';
import { tlsServerBench, tlsServerPlan, tlsServerTable, writeTlsServerResults } from './tlsserver';

const quick = process.argv.includes('--quick');
const MiB = 1024 * 1024;
const uploadOnly = process.argv.includes('--upload');
const serverOnly = process.argv.includes('--server');
const tlsServerOnly = process.argv.includes('--tlsserver');
// Below the ephemeral range (32768+): a port the load generator used as a client may
// sit in TIME_WAIT, and the C s6-tcpserver binds without SO_REUSEADDR.
const TLSSERVER_BASE_PORT = 10000 + (process.pid % 400) * 32;
const serverPlan = quick ? { shortPerRound: 10, rounds: 3, bulkBytes: 64 * MiB } : { shortPerRound: 20, rounds: 5, bulkBytes: 256 * MiB };
const updateCommitted = process.argv.includes('--update-committed') || process.env.BENCH_UPDATE_COMMITTED === '1';
/** Who is also measured uploading from a regular file. */
const FILE_UPLOADERS = ['ours', 'ours26', 'socat'];
const GiB = 1024 * 1024 * 1024;

const plan = quick
  ? { shortRounds: 21, usageRounds: 3, bulkRounds: 3, bulkBytes: 256 * MiB, tunnels: 200, concurrencyKeys: ['ours'] }
  : uploadOnly
  ? { shortRounds: 0, usageRounds: 0, bulkRounds: 5, bulkBytes: 256 * MiB, tunnels: 0, concurrencyKeys: [] as string[] }
  : { shortRounds: 61, usageRounds: 9, bulkRounds: 7, bulkBytes: 256 * MiB, tunnels: 200, concurrencyKeys: ['ours', 'ours26', 'socat'] };

const REQUEST = Buffer.from('GET / s6-tlsc-io\n'.slice(0, 16));

type Mode = 'short' | 'up' | 'down' | 'echo';

interface Contender {
  key: string;
  label: string;
  modes: Mode[];
  command(mode: Mode, port: number): Command;
}

function log(line: string): void {
  process.stderr.write(`bench: ${line}\n`);
}

function contenders(pki: Pki, workDir: string): Contender[] {
  const path = process.env.PATH ?? '/usr/bin:/bin';
  const ours = (env: Record<string, string>, pathFirst?: string) => (_mode: Mode, port: number): Command => ({
    argv: [BIN, '-k', 'localhost', '6', '7'],
    // The launcher runs the first `node` on PATH, as it does for users.
    env: { PATH: pathFirst ? `${pathFirst}:${path}` : path, ...env },
    socketPort: port,
  });
  const socatTarget = (port: number): string => `OPENSSL:127.0.0.1:${port},cafile=${pki.caFile},commonname=localhost`;
  const stunnelConf = (port: number): string => {
    const file = join(workDir, `stunnel-${port}.conf`);
    writeFileSync(file, `pid =\nclient = yes\nconnect = 127.0.0.1:${port}\nCAfile = ${pki.caFile}\nverifyChain = yes\ncheckHost = localhost\nsni = localhost\ndebug = 3\n`);
    return file;
  };
  const second = node26();
  const all: Contender[] = [
    { key: 'floor', label: 'node -e 0 (floor)', modes: ['short'], command: () => ({ argv: [process.execPath, '-e', '0'], env: { PATH: path } }) },
    { key: 'ours', label: `s6-tlsc-io, Node ${process.versions.node.split('.')[0]}`, modes: ['short', 'up', 'down', 'echo'], command: ours({ CAFILE: pki.caFile }) },
    { key: 'ours-cadir', label: `s6-tlsc-io (CADIR, 290 entries)`, modes: ['short'], command: ours({ CADIR: pki.bigCaDir }) },
  ];
  if (second) {
    const major = /v(\d+)/.exec(spawnVersion(second.node))?.[1] ?? '?';
    all.push(
      { key: 'floor26', label: `node -e 0 (floor), Node ${major}`, modes: ['short'], command: () => ({ argv: [second.node, '-e', '0'], env: { PATH: path } }) },
      { key: 'ours26', label: `s6-tlsc-io, Node ${major}`, modes: ['short', 'up', 'down', 'echo'], command: ours({ CAFILE: pki.caFile }, second.binDir) },
    );
  }
  all.push(
    {
      key: 'socat',
      label: 'socat OPENSSL:',
      modes: ['short', 'up', 'down', 'echo'],
      command: (mode, port) => ({
        argv:
          mode === 'up' ? ['socat', '-u', 'STDIN', socatTarget(port)]
          : mode === 'down' ? ['socat', '-u', socatTarget(port), 'STDOUT']
          : mode === 'echo' ? ['socat', '-t', '60', '-', socatTarget(port)]
          : ['socat', '-', socatTarget(port)],
        env: { PATH: path },
      }),
    },
    {
      key: 's_client',
      label: 'openssl s_client -quiet',
      modes: ['short', 'up', 'down', 'echo'],
      command: (mode, port) => ({
        argv: ['openssl', 's_client', '-quiet', '-verify_return_error', '-CAfile', pki.caFile, '-verify_hostname', 'localhost',
          '-servername', 'localhost', '-connect', `127.0.0.1:${port}`, ...(mode === 'up' ? ['-no_ign_eof'] : [])],
        env: { PATH: path },
      }),
    },
    {
      key: 'stunnel',
      label: 'stunnel (client, inetd mode)',
      modes: ['short', 'up', 'down', 'echo'],
      command: (_mode, port) => ({ argv: ['stunnel', stunnelConf(port)], env: { PATH: path } }),
    },
  );
  return all;
}

function spawnVersion(node: string): string {
  return spawnSync(node, ['--version'], { encoding: 'utf8' }).stdout ?? '';
}

/** Each round starts one place further down the list. */
function rotated<T>(xs: T[], round: number): T[] {
  const k = round % xs.length;
  return [...xs.slice(k), ...xs.slice(0, k)];
}

function check(ok: boolean, who: string, what: string, r: RunResult): void {
  if (!ok) throw new Error(`${who}: ${what} (exit ${r.code}, ${r.outBytes} bytes out)${r.stderr ? `: ${r.stderr.split('\n').slice(-3).join(' | ')}` : ''}`);
}

type Series = Record<string, number[]>;

interface TunnelsMemory {
  count: number;
  intact: number;
  seconds: number;
  /** per process, read while all were connected */
  memory: Memory[];
}

interface Figures {
  short: Series;
  shortCpu: Series;
  shortRss: Series;
  up: Series;
  down: Series;
  /** client CPU seconds per GiB */
  upCpu: Series;
  downCpu: Series;
  upServerCpu: Series;
  downServerCpu: Series;
  upRss: Series;
  downRss: Series;
  /** upload with stdin a regular file: MiB/s and client CPU seconds per GiB */
  upFile: Series;
  upFileCpu: Series;
  one: Record<string, Memory>;
  many: Record<string, TunnelsMemory>;
}

function push(rec: Series, key: string, value: number | undefined): void {
  if (value === undefined || Number.isNaN(value)) return;
  (rec[key] ??= []).push(value);
}

async function shortPhase(all: Contender[], port: number, workDir: string, f: Figures): Promise<void> {
  const list = all.filter((c) => c.modes.includes('short'));
  const warm = 2;
  log(`short connections: ${plan.shortRounds} rounds of ${list.length} contenders (+${warm} warm-up rounds)`);
  for (let round = 0; round < warm + plan.shortRounds; round++) {
    for (const c of rotated(list, round)) {
      const r = await runOnce({ cmd: c.command('short', port), stdin: { bytes: REQUEST }, stdout: 'collect', timeoutMs: 20_000 }, workDir);
      check(r.code === 0, c.label, 'short connection failed', r);
      if (!c.key.startsWith('floor')) check(r.stdout.equals(REQUEST), c.label, `reply differs (${JSON.stringify(r.stdout.toString())})`, r);
      if (round >= warm) push(f.short, c.key, r.ms);
    }
  }
  log(`short connections, CPU time and peak RSS: ${plan.usageRounds} rounds`);
  for (let round = 0; round < plan.usageRounds; round++) {
    for (const c of rotated(list, round)) {
      const r = await runOnce({ cmd: c.command('short', port), stdin: { bytes: REQUEST }, stdout: 'collect', usage: true, timeoutMs: 20_000 }, workDir);
      check(r.code === 0 && !!r.usage, c.label, 'short connection (usage run) failed', r);
      push(f.shortCpu, c.key, (r.usage!.user + r.usage!.sys) * 1000);
      push(f.shortRss, c.key, r.usage!.maxRssKiB);
    }
  }
}

function zeroSource(bytes: number): ChildProcess {
  return spawn('head', ['-c', String(bytes), '/dev/zero'], { stdio: ['ignore', 'pipe', 'ignore'] });
}

async function bulkPhase(all: Contender[], servers: Servers, workDir: string, f: Figures): Promise<void> {
  const list = all.filter((c) => c.modes.includes('up') && (!uploadOnly || FILE_UPLOADERS.includes(c.key)));
  const n = plan.bulkBytes;
  log(`bulk: ${plan.bulkRounds} round(s) of ${list.length} contenders x ${uploadOnly ? 'upload' : 'upload+download'} of ${n / MiB} MiB` +
    `, and upload from a regular file for ${FILE_UPLOADERS.filter((k) => list.some((c) => c.key === k)).join(', ')}`);
  // The same zeros as the pipe carries, in a file of the work directory.
  const zeroFile = join(workDir, 'upload.bin');
  writeFileSync(zeroFile, Buffer.alloc(0));
  for (let done = 0; done < n; done += 16 * MiB) writeFileSync(zeroFile, Buffer.alloc(Math.min(16 * MiB, n - done)), { flag: 'a' });
  // One transfer, with the CPU the server's forked child spent on it.
  const transfer = async (c: Contender, dir: 'up' | 'down' | 'upFile'): Promise<{ r: RunResult; serverCpu: number }> => {
    const kind = dir === 'down' ? 'source' : 'sink';
    const before = await reapedChildrenCpu(servers.pid[kind]);
    const r = await runOnce({
      cmd: c.command(dir === 'down' ? 'down' : 'up', servers.port[kind]),
      stdin: dir === 'up' ? { from: zeroSource(n) } : dir === 'upFile' ? { file: zeroFile } : { bytes: Buffer.alloc(0) },
      stdout: 'count',
      usage: true,
      timeoutMs: 300_000,
    }, workDir);
    return { r, serverCpu: (await reapedChildrenCpu(servers.pid[kind])) - before };
  };
  const record = (c: Contender, dir: 'up' | 'down', { r, serverCpu }: { r: RunResult; serverCpu: number }): number => {
    const u = r.usage!;
    const rate = n / MiB / (u.wallMs / 1000);
    push(dir === 'up' ? f.up : f.down, c.key, rate);
    push(dir === 'up' ? f.upCpu : f.downCpu, c.key, ((u.user + u.sys) * GiB) / n);
    push(dir === 'up' ? f.upServerCpu : f.downServerCpu, c.key, (serverCpu * GiB) / n);
    push(dir === 'up' ? f.upRss : f.downRss, c.key, u.maxRssKiB);
    return rate;
  };
  for (let round = 0; round < plan.bulkRounds; round++) {
    for (const c of rotated(list, round)) {
      const up = await transfer(c, 'up');
      check(up.r.code === 0 && !!up.r.usage, c.label, 'upload failed', up.r);
      let fileNote = '';
      if (FILE_UPLOADERS.includes(c.key)) {
        const { r } = await transfer(c, 'upFile');
        check(r.code === 0 && !!r.usage, c.label, 'upload from a regular file failed', r);
        const cpu = ((r.usage!.user + r.usage!.sys) * GiB) / n;
        push(f.upFile, c.key, n / MiB / (r.usage!.wallMs / 1000));
        push(f.upFileCpu, c.key, cpu);
        fileNote = `, up from a file ${cpu.toFixed(2)} CPU s/GiB`;
      }
      if (uploadOnly) {
        log(`  ${c.label}: up ${record(c, 'up', up).toFixed(0)} MiB/s ${(((up.r.usage!.user + up.r.usage!.sys) * GiB) / n).toFixed(2)} CPU s/GiB${fileNote}`);
        continue;
      }
      const down = await transfer(c, 'down');
      check(down.r.code === 0 && !!down.r.usage && down.r.outBytes === n, c.label, `download failed or short (${down.r.outBytes} of ${n} bytes)`, down.r);
      const rates = [record(c, 'up', up), record(c, 'down', down)];
      const cpu = [up, down].map(({ r }) => (((r.usage!.user + r.usage!.sys) * GiB) / n).toFixed(2));
      log(`  ${c.label}: up ${rates[0].toFixed(0)} MiB/s ${cpu[0]} CPU s/GiB${fileNote}, down ${rates[1].toFixed(0)} MiB/s ${cpu[1]} CPU s/GiB`);
    }
  }
}

/**
 * `count` tunnels at once to the echo server, each sending `bytes` random
 * bytes and holding its stdin open until every tunnel has its bytes back;
 * then the memory of each process is read (all connected, all having
 * carried traffic), stdin is closed and every byte that came back is checked.
 */
async function tunnelsPhase(c: Contender, count: number, bytes: number, port: number, workDir: string): Promise<TunnelsMemory> {
  const payloads = Array.from({ length: count }, () => randomBytes(bytes));
  const started = process.hrtime.bigint();
  const held: (HeldTunnel | undefined)[] = await Promise.all(payloads.map((p) => startHeldTunnel(c.command('echo', port), p, workDir).catch(() => undefined)));
  await Promise.all(held.map((t) => t?.echoed));
  const memory = held.map((t) => (t ? memoryOf(t.pid) : undefined)).filter((m): m is Memory => m !== undefined);
  // s_client (-quiet ignores stdin's EOF) never ends by itself here: it is stopped after its bytes are checked.
  const grace = c.key === 's_client' ? 1000 : undefined;
  const results = await Promise.all(held.map((t) => t?.finish(grace)));
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  let intact = 0;
  results.forEach((r, i) => {
    const exitOk = r !== undefined && (r.code === 0 || grace !== undefined);
    if (r && exitOk && r.stdout.equals(payloads[i])) intact++;
    else if (intact + 3 > i) log(`  ${c.label}: tunnel ${i} broken: exit ${r?.code}, ${r?.outBytes} bytes back; ${(r?.stderr ?? 'not started').split('\n').slice(-2).join(' | ')}`);
  });
  return { count, intact, seconds, memory };
}

async function memoryPhase(all: Contender[], port: number, workDir: string, f: Figures): Promise<void> {
  const list = all.filter((c) => c.modes.includes('echo'));
  log(`memory, one tunnel: ${list.length} contenders, 1 MiB echoed, then /proc/PID/smaps_rollup`);
  for (const c of list) {
    const one = await tunnelsPhase(c, 1, MiB, port, workDir);
    if (one.intact !== 1 || one.memory.length !== 1) throw new Error(`${c.label}: the one-tunnel memory run failed`);
    f.one[c.key] = one.memory[0];
  }
  for (const key of plan.concurrencyKeys) {
    const c = all.find((x) => x.key === key);
    if (!c) continue;
    log(`concurrency: ${c.label}, ${plan.tunnels} tunnels at once, 1 MiB each way, every byte checked`);
    const many = await tunnelsPhase(c, plan.tunnels, MiB, port, workDir);
    f.many[key] = many;
    const pss = many.memory.reduce((a, m) => a + m.pssKiB, 0);
    log(`  ${many.intact}/${many.count} intact in ${many.seconds.toFixed(2)} s; PSS ${(pss / 1024 / many.count).toFixed(1)} MiB per tunnel, ${(pss / 1024).toFixed(0)} MiB in all`);
  }
}

// ---------------------------------------------------------------- report

const mb = (kib: number): number => kib / 1024;
const fx = (x: number, d = 1): string => (Number.isFinite(x) ? x.toFixed(d) : 'n/a');

interface Target {
  name: string;
  figure: string;
  limit: string;
  pass: boolean;
  /** figure as a ratio, and the target ratio, for the chart */
  ratio: number;
  goal: number;
  higherIsBetter: boolean;
  chartLabel: string;
}

/** Upload CPU from a pipe and from a regular file, each against socat's the same way. */
function uploadSourcesTable(all: Contender[], f: Figures): string[] {
  const med = (rec: Series, key: string): number => median(rec[key] ?? []);
  const L: string[] = [];
  L.push(`## Upload from a pipe and from a regular file, ${plan.bulkBytes / MiB} MiB (median of ${f.upFileCpu.ours?.length ?? 0})`);
  L.push('');
  L.push('Client CPU (user + system, wait4) per GiB with stdin a pipe fed by `head -c` from /dev/zero, and with stdin a regular file of the same zeros (in the page cache).');
  L.push('');
  L.push('| program | CPU s/GiB, pipe | vs socat | CPU s/GiB, file | vs socat | MiB/s pipe / file |');
  L.push('| --- | ---: | ---: | ---: | ---: | ---: |');
  for (const c of all.filter((x) => FILE_UPLOADERS.includes(x.key) && f.upFileCpu[x.key])) {
    const k = c.key;
    L.push(`| ${c.label} | ${fx(med(f.upCpu, k), 2)} | ${fx(med(f.upCpu, k) / med(f.upCpu, 'socat'), 2)}x | ${fx(med(f.upFileCpu, k), 2)} | ${fx(med(f.upFileCpu, k) / med(f.upFileCpu, 'socat'), 2)}x | ${fx(med(f.up, k), 0)} / ${fx(med(f.upFile, k), 0)} |`);
  }
  L.push('');
  return L;
}

function report(m: Machine, all: Contender[], f: Figures, seconds: number): { text: string; bars: Bar[] } {
  const med = (rec: Series, key: string): number => median(rec[key] ?? []);
  const has = (key: string): boolean => all.some((c) => c.key === key);
  const label = (key: string): string => all.find((c) => c.key === key)?.label ?? key;
  const floor = med(f.short, 'floor');
  const floorRss = mb(med(f.shortRss, 'floor'));
  const socatShort = med(f.short, 'socat');
  const oursKeys = ['ours', 'ours26'].filter(has);
  const L: string[] = [];

  L.push(`# s6-tlsc-io benchmark${quick ? ' (--quick)' : ''}`);
  L.push('');
  L.push(`\`npm run bench${quick ? ' -- --quick' : ''}\`, ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC, ${fx(seconds / 60, 1)} min.`);
  L.push('');
  L.push(`Machine: ${m.cpu}, ${m.cores} cores, Linux ${m.kernel}; Node ${m.node} (OpenSSL ${m.nodeOpenssl})${m.node26 ? ` and Node ${m.node26}` : ''}; ${m.systemOpenssl}; ${m.socat}; ${m.stunnel}.`);
  L.push(`Servers: socat \`OPENSSL-LISTEN\` (fork, 256 KiB buffer for bulk) on 127.0.0.1, TLS 1.3 with its preferred suite; clients run with a clean environment (PATH only, plus CAFILE/CADIR for s6-tlsc-io), s6-tlsc-io as users run it (\`bin/s6-tlsc-io -k localhost 6 7\`, TCP socket at fds 6 and 7${has('ours26') ? '; on the second Node by putting its directory first in PATH' : ''}).`);
  L.push('');

  const targets: Target[] = [];
  for (const key of oursKeys) {
    for (const dir of ['up', 'down'] as const) {
      const rec = dir === 'up' ? f.upCpu : f.downCpu;
      const ratio = med(rec, key) / med(rec, 'socat');
      const word = dir === 'up' ? 'upload' : 'download';
      targets.push({
        name: `${label(key)}: CPU per GiB ${word} <= socat's`,
        figure: `${fx(med(rec, key), 2)} vs ${fx(med(rec, 'socat'), 2)} s/GiB = ${fx(ratio, 2)}x`,
        limit: '<= 1.00x', pass: ratio <= 1, ratio, goal: 1, higherIsBetter: false,
        chartLabel: `CPU/GiB ${word}, ${label(key).replace('s6-tlsc-io, ', '')}`,
      });
    }
  }
  for (const key of oursKeys) {
    const ratio = med(f.upFileCpu, key) / med(f.upFileCpu, 'socat');
    targets.push({
      name: `${label(key)}: CPU per GiB upload from a regular file <= 1.3x socat's`,
      figure: `${fx(med(f.upFileCpu, key), 2)} vs ${fx(med(f.upFileCpu, 'socat'), 2)} s/GiB = ${fx(ratio, 2)}x`,
      limit: '<= 1.30x', pass: ratio <= 1.3, ratio, goal: 1.3, higherIsBetter: false,
      chartLabel: `CPU/GiB upload from a file, ${label(key).replace('s6-tlsc-io, ', '')}`,
    });
  }
  const upRatio = med(f.up, 'ours') / med(f.up, 'socat');
  const downRatio = med(f.down, 'ours') / med(f.down, 'socat');
  targets.push({ name: 'bulk upload >= 1.1x socat (MiB/s)', figure: `${fx(med(f.up, 'ours'), 0)} vs ${fx(med(f.up, 'socat'), 0)} MiB/s = ${fx(upRatio, 2)}x`, limit: '>= 1.10x', pass: upRatio >= 1.1, ratio: upRatio, goal: 1.1, higherIsBetter: true, chartLabel: 'upload MiB/s vs socat' });
  targets.push({ name: 'bulk download >= 1.1x socat (MiB/s)', figure: `${fx(med(f.down, 'ours'), 0)} vs ${fx(med(f.down, 'socat'), 0)} MiB/s = ${fx(downRatio, 2)}x`, limit: '>= 1.10x', pass: downRatio >= 1.1, ratio: downRatio, goal: 1.1, higherIsBetter: true, chartLabel: 'download MiB/s vs socat' });
  const above = med(f.short, 'ours') - floor;
  const shortRatio = above / socatShort;
  targets.push({ name: 'short connection: (ours - node floor) <= 1.5x socat', figure: `${fx(med(f.short, 'ours'))} - ${fx(floor)} = ${fx(above)} ms vs socat ${fx(socatShort)} ms = ${fx(shortRatio, 2)}x`, limit: '<= 1.50x', pass: shortRatio <= 1.5, ratio: shortRatio, goal: 1.5, higherIsBetter: false, chartLabel: 'short: (ours-floor)/socat' });
  const aboveCadir = med(f.short, 'ours-cadir') - floor;
  targets.push({ name: 'same with CADIR (290 entries)', figure: `${fx(aboveCadir)} ms above the floor = ${fx(aboveCadir / socatShort, 2)}x socat`, limit: '<= 1.50x', pass: aboveCadir / socatShort <= 1.5, ratio: aboveCadir / socatShort, goal: 1.5, higherIsBetter: false, chartLabel: 'short, CADIR: (ours-floor)/socat' });
  const rssShort = mb(med(f.shortRss, 'ours')) - floorRss;
  targets.push({ name: 'peak RSS, short connection <= floor + 15 MB', figure: `${fx(mb(med(f.shortRss, 'ours')))} MiB = floor ${fx(floorRss)} + ${fx(rssShort)}`, limit: '<= +15', pass: rssShort <= 15, ratio: rssShort / 15, goal: 1, higherIsBetter: false, chartLabel: 'RSS short: (ours-floor)/15 MB' });
  const rssBulk = Math.max(mb(med(f.upRss, 'ours')), mb(med(f.downRss, 'ours'))) - floorRss;
  targets.push({ name: 'peak RSS, bulk <= floor + 15 MB', figure: `up ${fx(mb(med(f.upRss, 'ours')))} / down ${fx(mb(med(f.downRss, 'ours')))} MiB = floor + ${fx(rssBulk)}`, limit: '<= +15', pass: rssBulk <= 15, ratio: rssBulk / 15, goal: 1, higherIsBetter: false, chartLabel: 'RSS bulk: (ours-floor)/15 MB' });
  for (const key of oursKeys) {
    const many = f.many[key];
    if (!many) continue;
    targets.push({ name: `${label(key)}: ${many.count} concurrent tunnels, 1 MiB each way, all intact`, figure: `${many.intact}/${many.count} in ${fx(many.seconds, 2)} s`, limit: 'all', pass: many.intact === many.count, ratio: many.intact / many.count, goal: 1, higherIsBetter: true, chartLabel: `${many.count} tunnels intact, ${label(key).replace('s6-tlsc-io, ', '')}` });
  }

  L.push('## Targets (issues 3, 11 and 15)');
  L.push('');
  L.push('| target | figure | limit | result |');
  L.push('| --- | --- | --- | --- |');
  for (const t of targets) L.push(`| ${t.name} | ${t.figure} | ${t.limit} | ${t.pass ? 'PASS' : 'FAIL'} |`);
  L.push('');

  L.push(`## Bulk transfer, ${plan.bulkBytes / MiB} MiB each way (median of ${f.up.ours?.length ?? 0})`);
  L.push('');
  L.push('CPU is the client process\'s own user + system time (wait4) for the whole run, start-up and handshake included, per GiB moved; the server\'s is its forked child\'s (10 ms ticks), beside it to show that the server is not the limit.');
  L.push('');
  L.push('| program | upload MiB/s | CPU s/GiB up | vs socat | download MiB/s | CPU s/GiB down | vs socat | server CPU s/GiB up / down | peak RSS MiB up / down |');
  L.push('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
  for (const c of all.filter((x) => x.modes.includes('up'))) {
    const k = c.key;
    L.push(`| ${c.label} | ${fx(med(f.up, k), 0)} | ${fx(med(f.upCpu, k), 2)} | ${fx(med(f.upCpu, k) / med(f.upCpu, 'socat'), 2)}x | ${fx(med(f.down, k), 0)} | ${fx(med(f.downCpu, k), 2)} | ${fx(med(f.downCpu, k) / med(f.downCpu, 'socat'), 2)}x | ${fx(med(f.upServerCpu, k), 2)} / ${fx(med(f.downServerCpu, k), 2)} | ${fx(mb(med(f.upRss, k)))} / ${fx(mb(med(f.downRss, k)))} |`);
  }
  L.push('');
  L.push(...uploadSourcesTable(all, f));
  // What the bytes cost once the process runs: the short connection's CPU
  // (start-up, handshake) taken out of the bulk figure.
  L.push(`Per byte alone (bulk CPU minus one short connection's CPU, per GiB), up / down: ${all
    .filter((x) => x.modes.includes('up'))
    .map((c) => {
      const startup = med(f.shortCpu, c.key) / 1000;
      const perByte = (rec: Series): number => med(rec, c.key) - (startup * GiB) / plan.bulkBytes;
      return `${c.label} ${fx(perByte(f.upCpu), 2)} / ${fx(perByte(f.downCpu), 2)}`;
    })
    .join('; ')}.`);
  L.push('');

  L.push(`## Short connection: handshake, 16-byte request, 16-byte reply, close (median of ${f.short.ours?.length ?? 0}; CPU and peak RSS median of ${f.shortCpu.ours?.length ?? 0})`);
  L.push('');
  L.push('| program | wall ms | minus floor | vs socat | CPU ms | peak RSS MiB |');
  L.push('| --- | ---: | ---: | ---: | ---: | ---: |');
  for (const c of all.filter((x) => x.modes.includes('short'))) {
    const t = med(f.short, c.key);
    const ownFloor = c.key === 'ours26' ? med(f.short, 'floor26') : floor;
    L.push(`| ${c.label} | ${fx(t)} | ${c.key.startsWith('floor') ? '' : fx(t - ownFloor)} | ${fx(t / socatShort, 2)}x | ${fx(med(f.shortCpu, c.key))} | ${fx(mb(med(f.shortRss, c.key)))} |`);
  }
  L.push('');
  L.push(`CADIR cost (290-entry directory vs one-anchor CAFILE): ${fx(med(f.short, 'ours-cadir') - med(f.short, 'ours'))} ms.${has('ours26') ? ' The second Node\'s row is measured above its own floor.' : ''}`);
  L.push('');

  L.push('## Memory per tunnel, read from /proc/PID/smaps_rollup while connected (after 1 MiB echoed)');
  L.push('');
  L.push('PSS counts each shared page (the executable, libraries) divided among the processes that map it: the sum over all tunnels is what the host pays. Private pages are mapped by this process alone; the dirty ones (heap, stacks, buffers) are what every further tunnel adds, while private clean pages are file pages no other process happens to map (with one tunnel, the whole executable of a Node nothing else runs), so the one-tunnel PSS and private figures depend on what else runs on the machine.');
  L.push('');
  L.push(`| program | 1 tunnel: RSS | PSS | private | private dirty | ${plan.tunnels} tunnels: PSS per tunnel | private per tunnel | private dirty per tunnel | PSS in all | largest peak RSS |`);
  L.push('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
  for (const c of all.filter((x) => x.modes.includes('echo'))) {
    const one = f.one[c.key];
    const many = f.many[c.key];
    const cell = (m: Memory | undefined, pick: (x: Memory) => number): string => (m ? fx(mb(pick(m))) : '');
    const per = (pick: (m: Memory) => number): string => (many && many.memory.length ? fx(mb(median(many.memory.map(pick)))) : '');
    const total = many ? fx(mb(many.memory.reduce((a, x) => a + x.pssKiB, 0)), 0) : '';
    const hwm = many && many.memory.length ? fx(mb(Math.max(...many.memory.map((x) => x.hwmKiB)))) : '';
    L.push(`| ${c.label} | ${cell(one, (x) => x.rssKiB)} | ${cell(one, (x) => x.pssKiB)} | ${cell(one, (x) => x.privateKiB)} | ${cell(one, (x) => x.privateDirtyKiB)} | ${per((x) => x.pssKiB)} | ${per((x) => x.privateKiB)} | ${per((x) => x.privateDirtyKiB)} | ${total} | ${hwm} |`);
  }
  L.push('');
  L.push('All memory figures in MiB (medians over the tunnels where there are 200).');
  L.push('');
  L.push(`## Concurrency: ${plan.tunnels} tunnels at once, 1 MiB each way, every byte checked`);
  L.push('');
  L.push('| program | total s | intact |');
  L.push('| --- | ---: | ---: |');
  for (const [key, c] of Object.entries(f.many)) L.push(`| ${label(key)} | ${fx(c.seconds, 2)} | ${c.intact}/${c.count} |`);
  L.push('');
  L.push('Throughput is bytes over the client\'s wall time from its start to its exit (handshake included); peak RSS is the process\'s maximum resident set (wait4 ru_maxrss) in MiB. socat clients run with their defaults (8 KiB buffer), with `-u` for one-way transfers. The upload is fed by `head -c` from /dev/zero through a pipe (and, in its own table, read from a regular file); the download is read from a pipe by the benchmark.');
  L.push('');

  const bars: Bar[] = targets.map((t) => ({ label: t.chartLabel, value: t.ratio, goal: t.goal, higherIsBetter: t.higherIsBetter, pass: t.pass }));
  return { text: L.join('\n'), bars };
}

/** npm run bench -- --server: the server part alone, its table on stdout. */
async function serverMain(): Promise<void> {
  ensureCommands([{ cmd: 'socat', pkg: 'socat' }, { cmd: 'stunnel4', pkg: 'stunnel4' }, { cmd: 'tcpserver', pkg: 'ucspi-tcp' }], log);
  const pki = makePki();
  try {
    const rows = await serverBench(pki, 27000 + (process.pid % 1000) * 12, serverPlan, log);
    process.stdout.write(serverTable(rows, serverPlan).join('\n') + '\n');
  } finally {
    pki.cleanup();
  }
}

/** npm run bench -- --tlsserver: the s6-tlsserver part alone, its table on stdout and in its file. */
async function tlsServerMain(): Promise<void> {
  const t0 = Date.now();
  ensureCommands([{ cmd: 'socat', pkg: 'socat' }, { cmd: 'stunnel4', pkg: 'stunnel4' }, { cmd: 'tcpserver', pkg: 'ucspi-tcp' }], log);
  const pki = makePki();
  try {
    const plan = tlsServerPlan(quick);
    const lines = tlsServerTable(await tlsServerBench(pki, TLSSERVER_BASE_PORT, plan, log), plan, quick);
    process.stdout.write(lines.join('\n') + '\n');
    const file = writeTlsServerResults(lines, updateCommitted, quick, (Date.now() - t0) / 1000);
    log(`wrote ${file}${updateCommitted ? '' : ' (--update-committed writes bench/results-tlsserver.md)'}`);
  } finally {
    pki.cleanup();
  }
}

async function main(): Promise<void> {
  if (serverOnly) return serverMain();
  if (tlsServerOnly) return tlsServerMain();
  const t0 = Date.now();
  ensureCommands(
    [
      { cmd: 'socat', pkg: 'socat' },
      { cmd: 'stunnel', pkg: 'stunnel4' },
      { cmd: 'openssl', pkg: 'openssl' },
      { cmd: 'python3', pkg: 'python3-minimal' },
      { cmd: 'c_rehash', pkg: 'ca-certificates' },
      // the server parts
      { cmd: 'stunnel4', pkg: 'stunnel4' },
      { cmd: 'tcpserver', pkg: 'ucspi-tcp' },
    ],
    log,
  );
  const m = machineFacts();
  const pki = makePki();
  const servers = await startServers(pki, 24000 + (process.pid % 2000) * 4, plan.bulkBytes);
  const cleanup = async (): Promise<void> => {
    await servers.stop();
    pki.cleanup();
  };
  process.once('SIGINT', () => void cleanup().then(() => process.exit(130)));
  const f: Figures = { short: {}, shortCpu: {}, shortRss: {}, up: {}, down: {}, upCpu: {}, downCpu: {}, upServerCpu: {}, downServerCpu: {}, upRss: {}, downRss: {}, upFile: {}, upFileCpu: {}, one: {}, many: {} };
  const all = contenders(pki, pki.dir);
  let serverRows: ServerFigures[] | undefined;
  let tlsServerLines: string[] | undefined;
  if (!all.some((c) => c.key === 'ours26')) log(`no second Node (scripts/node26.sh found none; set NODE26): ours runs on ${process.version} only`);
  try {
    if (!uploadOnly) await shortPhase(all, servers.port.short, pki.dir, f);
    await bulkPhase(all, servers, pki.dir, f);
    if (!uploadOnly) await memoryPhase(all, servers.port.echo, pki.dir, f);
    if (!uploadOnly) serverRows = await serverBench(pki, 27000 + (process.pid % 1000) * 12, serverPlan, log);
    if (!uploadOnly) {
      const t1 = Date.now();
      const tlsPlan = tlsServerPlan(quick);
      tlsServerLines = tlsServerTable(await tlsServerBench(pki, TLSSERVER_BASE_PORT, tlsPlan, log), tlsPlan, quick);
      log(`wrote ${writeTlsServerResults(tlsServerLines, updateCommitted, quick, (Date.now() - t1) / 1000)}`);
    }
  } finally {
    await cleanup();
  }
  if (uploadOnly) {
    process.stdout.write(uploadSourcesTable(all, f).join('\n') + '\n');
    return;
  }
  const client = report(m, all, f, (Date.now() - t0) / 1000);
  const text = serverRows ? `${client.text}\n\n${serverTable(serverRows, serverPlan).join('\n')}` : client.text;
  // The s6-tlsserver table has its own file (bench/results-tlsserver.md); stdout shows it after the rest.
  const shownText = tlsServerLines ? `${text}\n\n${tlsServerLines.join('\n')}` : text;
  const { bars } = client;
  process.stdout.write(shownText + '\n');
  // The committed figures change only when asked: a run on another machine
  // (or a loaded one) must not replace them by accident.
  const outDir = updateCommitted ? join(REPO, 'bench') : join(REPO, 'bench', 'out');
  mkdirSync(outDir, { recursive: true });
  writeFileSync(join(outDir, 'results.md'), text + '\n\n![ratios to the targets](results.svg)\n');
  writeFileSync(join(outDir, 'results.svg'), renderChart(bars, `s6-tlsc-io vs targets${quick ? ' (--quick)' : ''}, Node ${m.node}${m.node26 ? ` and ${m.node26.split(' ')[0]}` : ''}`));
  const shown = updateCommitted ? 'bench' : 'bench/out';
  log(`wrote ${shown}/results.md and ${shown}/results.svg in ${((Date.now() - t0) / 1000).toFixed(0)} s${updateCommitted ? '' : ' (--update-committed writes bench/results.md and results.svg)'}`);
}

main().catch((err: unknown) => {
  process.stderr.write(`bench: failed: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
