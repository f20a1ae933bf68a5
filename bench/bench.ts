// npm run bench [-- --quick]
//
// s6-tlsc-io against its peers, in one run, the contenders alternating
// round by round so that the machine's drift cancels: socat's OPENSSL:
// client, `openssl s_client -quiet`, stunnel in client (inetd) mode, and bare
// `node -e 0` as the start-up floor. One C TLS server (socat) on 127.0.0.1
// serves everyone. Writes the table to stdout and bench/results.md, and a bar
// chart of the ratios to bench/results.svg.

import { randomBytes } from 'crypto';
import { spawn, ChildProcess } from 'child_process';
import { writeFileSync } from 'fs';
import { join } from 'path';
import { BIN, REPO, Command, Machine, Pki, RunResult, ensureCommands, machineFacts, makePki, median, runOnce, startServers } from './tools';
import { renderChart, Bar } from './chart';

const quick = process.argv.includes('--quick');
const MiB = 1024 * 1024;

const plan = quick
  ? { shortRounds: 31, rssRounds: 3, bulkRounds: 3, bulkBytes: 256 * MiB, tunnels: 200, peerConcurrency: false }
  : { shortRounds: 61, rssRounds: 9, bulkRounds: 9, bulkBytes: 256 * MiB, tunnels: 200, peerConcurrency: true };

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
  const ours = (env: Record<string, string>) => (_mode: Mode, port: number): Command => ({
    argv: [BIN, '-k', 'localhost', '6', '7'],
    env: { PATH: path, ...env },
    socketPort: port,
  });
  const socatTarget = (port: number): string => `OPENSSL:127.0.0.1:${port},cafile=${pki.caFile},commonname=localhost`;
  const stunnelConf = (port: number): string => {
    const file = join(workDir, `stunnel-${port}.conf`);
    writeFileSync(file, `pid =\nclient = yes\nconnect = 127.0.0.1:${port}\nCAfile = ${pki.caFile}\nverifyChain = yes\ncheckHost = localhost\nsni = localhost\ndebug = 3\n`);
    return file;
  };
  return [
    { key: 'floor', label: 'node -e 0 (floor)', modes: ['short'], command: () => ({ argv: [process.execPath, '-e', '0'], env: { PATH: path } }) },
    { key: 'ours', label: 's6-tlsc-io (CAFILE)', modes: ['short', 'up', 'down', 'echo'], command: ours({ CAFILE: pki.caFile }) },
    { key: 'ours-cadir', label: `s6-tlsc-io (CADIR, 290 entries)`, modes: ['short'], command: ours({ CADIR: pki.bigCaDir }) },
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
      modes: ['short', 'up', 'down'],
      command: (mode, port) => ({
        argv: ['openssl', 's_client', '-quiet', '-verify_return_error', '-CAfile', pki.caFile, '-verify_hostname', 'localhost',
          '-servername', 'localhost', '-connect', `127.0.0.1:${port}`, ...(mode === 'up' ? ['-no_ign_eof'] : [])],
        env: { PATH: path },
      }),
    },
    {
      key: 'stunnel',
      label: 'stunnel (client, inetd mode)',
      modes: ['short', 'up', 'down'],
      command: (_mode, port) => ({ argv: ['stunnel', stunnelConf(port)], env: { PATH: path } }),
    },
  ];
}

/** Each round starts one place further down the list. */
function rotated<T>(xs: T[], round: number): T[] {
  const k = round % xs.length;
  return [...xs.slice(k), ...xs.slice(0, k)];
}

function check(ok: boolean, who: string, what: string, r: RunResult): void {
  if (!ok) throw new Error(`${who}: ${what} (exit ${r.code}, ${r.outBytes} bytes out)${r.stderr ? `: ${r.stderr.split('\n').slice(-3).join(' | ')}` : ''}`);
}

interface Figures {
  short: Record<string, number[]>;
  shortRss: Record<string, number[]>;
  up: Record<string, number[]>;
  down: Record<string, number[]>;
  upRss: Record<string, number[]>;
  downRss: Record<string, number[]>;
  conc: Record<string, { seconds: number; intact: number; total: number; rssKiB: number; maxRssKiB: number }>;
}

function push(rec: Record<string, number[]>, key: string, value: number | undefined): void {
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
      if (c.key !== 'floor') check(r.stdout.equals(REQUEST), c.label, `reply differs (${JSON.stringify(r.stdout.toString())})`, r);
      if (round >= warm) push(f.short, c.key, r.ms);
    }
  }
  log(`short connections, peak RSS: ${plan.rssRounds} rounds`);
  for (let round = 0; round < plan.rssRounds; round++) {
    for (const c of rotated(list, round)) {
      const r = await runOnce({ cmd: c.command('short', port), stdin: { bytes: REQUEST }, stdout: 'collect', rss: true, timeoutMs: 20_000 }, workDir);
      check(r.code === 0, c.label, 'short connection (RSS run) failed', r);
      push(f.shortRss, c.key, r.rssKiB);
    }
  }
}

function zeroSource(bytes: number): ChildProcess {
  return spawn('head', ['-c', String(bytes), '/dev/zero'], { stdio: ['ignore', 'pipe', 'ignore'] });
}

async function bulkPhase(all: Contender[], ports: { sink: number; source: number }, workDir: string, f: Figures): Promise<void> {
  const list = all.filter((c) => c.modes.includes('up'));
  const n = plan.bulkBytes;
  log(`bulk: ${plan.bulkRounds} round(s) of ${list.length} contenders x upload+download of ${n / MiB} MiB`);
  for (let round = 0; round < plan.bulkRounds; round++) {
    for (const c of rotated(list, round)) {
      const up = await runOnce({ cmd: c.command('up', ports.sink), stdin: { from: zeroSource(n) }, stdout: 'count', rss: true, timeoutMs: 300_000 }, workDir);
      check(up.code === 0, c.label, 'upload failed', up);
      push(f.up, c.key, n / MiB / (up.ms / 1000));
      push(f.upRss, c.key, up.rssKiB);
      const down = await runOnce({ cmd: c.command('down', ports.source), stdin: { bytes: Buffer.alloc(0) }, stdout: 'count', rss: true, timeoutMs: 300_000 }, workDir);
      check(down.code === 0 && down.outBytes === n, c.label, `download failed or short (${down.outBytes} of ${n} bytes)`, down);
      push(f.down, c.key, n / MiB / (down.ms / 1000));
      push(f.downRss, c.key, down.rssKiB);
      log(`  ${c.label}: up ${(n / MiB / (up.ms / 1000)).toFixed(0)} MiB/s, down ${(n / MiB / (down.ms / 1000)).toFixed(0)} MiB/s`);
    }
  }
}

async function concurrencyPhase(c: Contender, port: number, workDir: string, f: Figures): Promise<void> {
  const count = plan.tunnels;
  log(`concurrency: ${c.label}, ${count} tunnels at once, 1 MiB each way`);
  const payloads = Array.from({ length: count }, () => randomBytes(MiB));
  const started = process.hrtime.bigint();
  const results = await Promise.all(
    payloads.map((bytes) =>
      runOnce({ cmd: c.command('echo', port), stdin: { bytes }, stdout: 'collect', rss: true, timeoutMs: 180_000 }, workDir).catch(
        (err: Error): RunResult => ({ ms: NaN, code: null, stdout: Buffer.alloc(0), outBytes: 0, stderr: String(err) }),
      ),
    ),
  );
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  let intact = 0;
  let rssKiB = 0;
  let maxRssKiB = 0;
  results.forEach((r, i) => {
    if (r.code === 0 && r.stdout.equals(payloads[i])) intact++;
    else if (intact + 3 > i) log(`  tunnel ${i} broken: exit ${r.code}, ${r.outBytes} bytes back; ${r.stderr.split('\n').slice(-2).join(' | ')}`);
    rssKiB += r.rssKiB ?? 0;
    maxRssKiB = Math.max(maxRssKiB, r.rssKiB ?? 0);
  });
  f.conc[c.key] = { seconds, intact, total: count, rssKiB, maxRssKiB };
  log(`  ${intact}/${count} intact in ${seconds.toFixed(2)} s, summed peak RSS ${(rssKiB / 1024).toFixed(0)} MiB`);
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

function report(m: Machine, all: Contender[], f: Figures, seconds: number): { text: string; bars: Bar[] } {
  const med = (rec: Record<string, number[]>, key: string): number => median(rec[key] ?? []);
  const label = (key: string): string => all.find((c) => c.key === key)?.label ?? key;
  const floor = med(f.short, 'floor');
  const floorRss = mb(med(f.shortRss, 'floor'));
  const socatShort = med(f.short, 'socat');
  const L: string[] = [];

  L.push(`# s6-tlsc-io benchmark${quick ? ' (--quick)' : ''}`);
  L.push('');
  L.push(`\`npm run bench${quick ? ' -- --quick' : ''}\`, ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC, ${fx(seconds / 60, 1)} min.`);
  L.push('');
  L.push(`Machine: ${m.cpu}, ${m.cores} cores, Linux ${m.kernel}; Node ${m.node} (OpenSSL ${m.nodeOpenssl}); ${m.systemOpenssl}; ${m.socat}; ${m.stunnel}.`);
  L.push(`Server: socat \`OPENSSL-LISTEN\` (fork) on 127.0.0.1, TLS 1.3 with its preferred suite; clients run with a clean environment (PATH only, plus CAFILE/CADIR for s6-tlsc-io), s6-tlsc-io as users run it (\`bin/s6-tlsc-io -k localhost 6 7\`, TCP socket at fds 6 and 7).`);
  L.push('');

  const targets: Target[] = [];
  const upRatio = med(f.up, 'ours') / med(f.up, 'socat');
  const downRatio = med(f.down, 'ours') / med(f.down, 'socat');
  targets.push({ name: 'bulk upload >= 1.1x socat', figure: `${fx(med(f.up, 'ours'), 0)} vs ${fx(med(f.up, 'socat'), 0)} MiB/s = ${fx(upRatio, 2)}x`, limit: '>= 1.10x', pass: upRatio >= 1.1, ratio: upRatio, goal: 1.1, higherIsBetter: true, chartLabel: 'upload vs socat' });
  targets.push({ name: 'bulk download >= 1.1x socat', figure: `${fx(med(f.down, 'ours'), 0)} vs ${fx(med(f.down, 'socat'), 0)} MiB/s = ${fx(downRatio, 2)}x`, limit: '>= 1.10x', pass: downRatio >= 1.1, ratio: downRatio, goal: 1.1, higherIsBetter: true, chartLabel: 'download vs socat' });
  const above = med(f.short, 'ours') - floor;
  const shortRatio = above / socatShort;
  targets.push({ name: 'short connection: (ours - node floor) <= 1.5x socat', figure: `${fx(med(f.short, 'ours'))} - ${fx(floor)} = ${fx(above)} ms vs socat ${fx(socatShort)} ms = ${fx(shortRatio, 2)}x`, limit: '<= 1.50x', pass: shortRatio <= 1.5, ratio: shortRatio, goal: 1.5, higherIsBetter: false, chartLabel: 'short: (ours-floor)/socat' });
  const aboveCadir = med(f.short, 'ours-cadir') - floor;
  targets.push({ name: 'same with CADIR (290 entries)', figure: `${fx(aboveCadir)} ms above the floor = ${fx(aboveCadir / socatShort, 2)}x socat`, limit: '<= 1.50x', pass: aboveCadir / socatShort <= 1.5, ratio: aboveCadir / socatShort, goal: 1.5, higherIsBetter: false, chartLabel: 'short, CADIR: (ours-floor)/socat' });
  const rssShort = mb(med(f.shortRss, 'ours')) - floorRss;
  targets.push({ name: 'peak RSS, short connection <= floor + 15 MB', figure: `${fx(mb(med(f.shortRss, 'ours')))} MiB = floor ${fx(floorRss)} + ${fx(rssShort)}`, limit: '<= +15', pass: rssShort <= 15, ratio: rssShort / 15, goal: 1, higherIsBetter: false, chartLabel: 'RSS short: (ours-floor)/15 MB' });
  const rssBulk = Math.max(mb(med(f.upRss, 'ours')), mb(med(f.downRss, 'ours'))) - floorRss;
  targets.push({ name: 'peak RSS, bulk <= floor + 15 MB', figure: `up ${fx(mb(med(f.upRss, 'ours')))} / down ${fx(mb(med(f.downRss, 'ours')))} MiB = floor + ${fx(rssBulk)}`, limit: '<= +15', pass: rssBulk <= 15, ratio: rssBulk / 15, goal: 1, higherIsBetter: false, chartLabel: 'RSS bulk: (ours-floor)/15 MB' });
  const conc = f.conc.ours;
  if (conc) {
    targets.push({ name: `${conc.total} concurrent tunnels, 1 MiB each way, all intact`, figure: `${conc.intact}/${conc.total} in ${fx(conc.seconds, 2)} s, summed RSS ${fx(mb(conc.rssKiB), 0)} MiB`, limit: 'all', pass: conc.intact === conc.total, ratio: conc.intact / conc.total, goal: 1, higherIsBetter: true, chartLabel: 'concurrent tunnels intact' });
  }

  L.push('## Targets (issue 3)');
  L.push('');
  L.push('| target | figure | limit | result |');
  L.push('| --- | --- | --- | --- |');
  for (const t of targets) L.push(`| ${t.name} | ${t.figure} | ${t.limit} | ${t.pass ? 'PASS' : 'FAIL'} |`);
  L.push('');

  L.push(`## Short connection: handshake, 16-byte request, 16-byte reply, close (median of ${f.short.ours?.length ?? 0}; peak RSS median of ${f.shortRss.ours?.length ?? 0})`);
  L.push('');
  L.push('| program | wall ms | minus floor | vs socat | peak RSS MiB |');
  L.push('| --- | ---: | ---: | ---: | ---: |');
  for (const c of all.filter((x) => x.modes.includes('short'))) {
    const t = med(f.short, c.key);
    L.push(`| ${c.label} | ${fx(t)} | ${c.key === 'floor' ? '' : fx(t - floor)} | ${fx(t / socatShort, 2)}x | ${fx(mb(med(f.shortRss, c.key)))} |`);
  }
  L.push('');
  L.push(`CADIR cost (290-entry directory vs one-anchor CAFILE): ${fx(med(f.short, 'ours-cadir') - med(f.short, 'ours'))} ms.`);
  L.push('');

  L.push(`## Bulk transfer, ${plan.bulkBytes / MiB} MiB each way (median of ${f.up.ours?.length ?? 0})`);
  L.push('');
  L.push('| program | upload MiB/s | vs socat | download MiB/s | vs socat | peak RSS MiB up / down |');
  L.push('| --- | ---: | ---: | ---: | ---: | ---: |');
  for (const c of all.filter((x) => x.modes.includes('up'))) {
    L.push(`| ${c.label} | ${fx(med(f.up, c.key), 0)} | ${fx(med(f.up, c.key) / med(f.up, 'socat'), 2)}x | ${fx(med(f.down, c.key), 0)} | ${fx(med(f.down, c.key) / med(f.down, 'socat'), 2)}x | ${fx(mb(med(f.upRss, c.key)))} / ${fx(mb(med(f.downRss, c.key)))} |`);
  }
  L.push('');

  L.push(`## Concurrency: ${plan.tunnels} tunnels at once, 1 MiB each way, every byte checked`);
  L.push('');
  L.push('| program | total s | intact | summed peak RSS MiB | largest peak RSS MiB |');
  L.push('| --- | ---: | ---: | ---: | ---: |');
  for (const [key, c] of Object.entries(f.conc)) {
    L.push(`| ${label(key)} | ${fx(c.seconds, 2)} | ${c.intact}/${c.total} | ${fx(mb(c.rssKiB), 0)} | ${fx(mb(c.maxRssKiB))} |`);
  }
  L.push('');
  L.push('Throughput is bytes over wall time from spawn to exit (handshake included); peak RSS is the process\'s maximum resident set (GNU time %M, VmHWM) in MiB. socat clients run with their defaults (8 KiB buffer), with `-u` for one-way transfers.');
  L.push('');

  const bars: Bar[] = targets.map((t) => ({ label: t.chartLabel, value: t.ratio, goal: t.goal, higherIsBetter: t.higherIsBetter, pass: t.pass }));
  return { text: L.join('\n'), bars };
}

async function main(): Promise<void> {
  const t0 = Date.now();
  ensureCommands(
    [
      { cmd: 'socat', pkg: 'socat' },
      { cmd: 'stunnel', pkg: 'stunnel4' },
      { cmd: 'openssl', pkg: 'openssl' },
      { cmd: '/usr/bin/time', pkg: 'time' },
    ],
    log,
  );
  ensureCommands([{ cmd: 'c_rehash', pkg: 'ca-certificates' }], log);
  const m = machineFacts();
  const pki = makePki();
  const servers = await startServers(pki, 24000 + (process.pid % 2000) * 4, plan.bulkBytes);
  const cleanup = async (): Promise<void> => {
    await servers.stop();
    pki.cleanup();
  };
  process.once('SIGINT', () => void cleanup().then(() => process.exit(130)));
  const f: Figures = { short: {}, shortRss: {}, up: {}, down: {}, upRss: {}, downRss: {}, conc: {} };
  const all = contenders(pki, pki.dir);
  try {
    await shortPhase(all, servers.port.short, pki.dir, f);
    await bulkPhase(all, servers.port, pki.dir, f);
    await concurrencyPhase(all.find((c) => c.key === 'ours')!, servers.port.echo, pki.dir, f);
    if (plan.peerConcurrency) await concurrencyPhase(all.find((c) => c.key === 'socat')!, servers.port.echo, pki.dir, f);
  } finally {
    await cleanup();
  }
  const { text, bars } = report(m, all, f, (Date.now() - t0) / 1000);
  process.stdout.write(text + '\n');
  writeFileSync(join(REPO, 'bench', 'results.md'), text + '\n\n![ratios to the targets](results.svg)\n');
  writeFileSync(join(REPO, 'bench', 'results.svg'), renderChart(bars, `s6-tlsc-io vs targets${quick ? ' (--quick)' : ''}, Node ${m.node}`));
  log(`wrote bench/results.md and bench/results.svg in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
}

main().catch((err: unknown) => {
  process.stderr.write(`bench: failed: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
