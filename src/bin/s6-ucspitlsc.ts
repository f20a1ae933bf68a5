// s6-ucspitlsc: the client half of UCSPI-TLS. prog runs at once in
// cleartext with the network on rfd/wfd, plus a control socket and two
// channels (socket pairs) named in its environment; when it writes `y` or `Y` on the control
// socket, TLS starts on the network with those pipes as the cleartext side.

import { writeSync } from 'fs';
import type { Socket } from 'net';
import { engineConfigFrom, progNetworkFds, programFlags, sessionArgs, sessionFlags } from '../cli/config';
import { optionArgv, parseOptions, OptionTable } from '../cli/options';
import { EXIT_USAGE, FatalError, UsageError, oneLine } from '../base/errors';
import { prepareEngine } from '../client/prepare';
import { isRoot, willDrop } from '../engine/privileges';
import { callerNetworkFd, networkFromFds } from '../engine/network';
import { runTunnel } from '../engine/tunnel';
import { TLS_CONFIG_VARIABLES } from '../wiring/child';
import { closeChannels, engineSideOf, programOutlivesTunnel, startWithChannels } from '../wiring/prog';
import { stopReading } from '../base/node-internals';
import { startEngineProcess } from '../wiring/engine-process';
import { encodeNotification } from '../engine/report';
import { messenger, runProgram } from '../cli/program';
import { familyEnvironment } from '../cli/help';

const PROG = 's6-ucspitlsc';
const USAGE =
  's6-ucspitlsc [ -S | -s ] [ -J | -j ] [ -Y | -y ] [ -Z | -z ] [ -v verbosity ] [ -K kimeout ] [ -k servername ] [ -6 rfd ] [ -7 wfd ] [ -- ] prog...';

const table: OptionTable = {
  flags: [...sessionFlags, ...programFlags],
  args: [...sessionArgs, { short: '6', key: 'rfd', help: 'read the network from descriptor rfd (default 6)' }, { short: '7', key: 'wfd', help: 'write the network to descriptor wfd (default 7)' }],
};

/** The first three descriptor numbers from 3 that are not the network's. */
function protocolFds(rfd: number, wfd: number): [number, number, number] {
  const free: number[] = [];
  for (let fd = 3; free.length < 3; fd++) if (fd !== rfd && fd !== wfd) free.push(fd);
  return [free[0], free[1], free[2]];
}

/** The first byte prog writes on the control socket; undefined at EOF. */
function readCommand(ctl: Socket): Promise<number | undefined> {
  return new Promise((resolve) => {
    ctl.once('data', (chunk: Buffer) => {
      ctl.pause();
      resolve(chunk[0]);
    });
    ctl.once('end', () => resolve(undefined));
    ctl.once('close', () => resolve(undefined));
    ctl.on('error', () => resolve(undefined));
  });
}

function fatalLine(message: string): void {
  try {
    writeSync(2, `${PROG}: fatal: ${oneLine(message)}\n`);
  } catch {
    // stderr is gone
  }
}

async function main(): Promise<number> {
  const { flags, values, operands } = parseOptions(process.argv.slice(2), table);
  if (operands.length < 1) throw new UsageError('missing prog');
  const { rfd, wfd } = progNetworkFds(values);
  const config = engineConfigFrom(flags, values, process.env, isRoot());
  const say = messenger(PROG, config.verbosity);
  // Before prog starts: a number left closed may be one of Node's own.
  callerNetworkFd(rfd, 'fdr');
  callerNetworkFd(wfd, 'fdw');
  // Root dropping privileges: the engine will drop in a process of its own;
  // this one keeps the caller's identity for prog. Otherwise the
  // credentials load now, so that a bad one fails before prog starts.
  const dropping = willDrop(config.drop);
  const engine = dropping ? undefined : prepareEngine(config, say);

  const [ctlFd, readFd, writeFd] = protocolFds(rfd, wfd);
  const env: NodeJS.ProcessEnv = { ...process.env };
  if (!flags.keepTlsConfig) for (const name of TLS_CONFIG_VARIABLES) delete env[name];
  Object.assign(env, { SSLCTLFD: String(ctlFd), SSLREADFD: String(readFd), SSLWRITEFD: String(writeFd) });
  const { program, channels: ends } = startWithChannels({ argv: operands, rfd: readFd, wfd: writeFd }, env, { [rfd]: rfd, [wfd]: wfd, [ctlFd]: 'pipe' });
  // The engine child will read what prog writes to SSLWRITEFD from our end
  // of that channel: this process must not read any of it first (spawn
  // starts reading our ends at once), and nothing has been read yet.
  if (dropping) stopReading(ends.fromProgram);
  const ctl = program.child.stdio[ctlFd] as Socket;

  const command = await readCommand(ctl);
  if (command === undefined) {
    say.info('declined opportunistic TLS');
    ctl.destroy();
    closeChannels(ends);
    return program.exited;
  }
  if (command !== 0x79 && command !== 0x59) {
    // prog sees its pipes and control socket end; its exit is awaited so
    // that it is not left running behind our exit code.
    ctl.destroy();
    closeChannels(ends);
    await program.exited;
    throw new FatalError(EXIT_USAGE, 'unrecognized command on control socket');
  }
  say.info('accepted opportunistic TLS');
  const wantsReport = command === 0x59;
  if (!wantsReport) ctl.destroy();
  const reportTo = (data: Buffer | undefined): void => {
    if (wantsReport && data) ctl.end(data);
    else ctl.destroy();
  };

  if (!engine) {
    const engineOptions = optionArgv({ flags: sessionFlags, args: sessionArgs }, flags, values);
    try {
      const child = startEngineProcess({ rfd, wfd }, engineOptions, { input: ends.fromProgram, output: ends.toProgram });
      child.notification.then(reportTo, () => ctl.destroy());
    } catch (err) {
      // prog goes on without TLS: it sees EOF on its pipes.
      fatalLine(err instanceof Error ? err.message : String(err));
      ctl.destroy();
      closeChannels(ends);
    }
    return program.exited;
  }
  let writeSideClosed!: () => void;
  const flushed = new Promise<void>((resolve) => (writeSideClosed = resolve));
  const cleartext = engineSideOf(ends, operands[0], readFd, writeFd);
  let tunnel: Promise<unknown>;
  try {
    tunnel = runTunnel(
      { network: networkFromFds(rfd, wfd), cleartext },
      { ...engine, onHandshake: (report) => reportTo(encodeNotification(report)), onWriteSideClosed: writeSideClosed },
    );
  } catch (err) {
    tunnel = Promise.reject(err);
  }
  tunnel.catch(() => ctl.destroy());
  return programOutlivesTunnel(program, tunnel, () => cleartext, fatalLine, flushed);
}

runProgram(
  {
    name: PROG,
    synopsis: USAGE,
    summary:
      'The client half of UCSPI-TLS (STARTTLS): prog runs at once in cleartext on the network descriptors 6 and 7, with SSLCTLFD, SSLREADFD and SSLWRITEFD in its environment; when it writes y (or Y, for the connection report on the control socket) to SSLCTLFD, TLS starts on the connection and prog talks through SSLWRITEFD and SSLREADFD.',
    table,
    operands: [['prog...', 'the application and its arguments']],
    environment: familyEnvironment,
    exitCodes: [
      ["prog's code", 'once prog started: its exit code (128 + the signal number if it was killed), whether TLS started or not'],
      ['100', 'wrong usage, or a command byte other than y, Y or EOF on the control socket'],
      ['111', 'system error before prog started: bad descriptors, prog cannot be started'],
      ['96', 'bad trust anchors, key or certificate (read before prog starts)'],
    ],
  },
  main,
);
