// UCSPI-TLS, either half (s6-ucspitlsc, s6-ucspitlsd): prog runs at once in
// cleartext on the network, with a control socket and two channels (socket
// pairs) named in its environment; when it writes `y` or `Y` on the control
// socket, TLS starts on the network with those channels as the cleartext
// side (`Y` also gets the report on the control socket); EOF declines.

import { writeSync } from 'fs';
import type { Socket } from 'net';
import { EXIT_USAGE, FatalError, oneLine } from '../base/errors';
import { stopReading } from '../base/node-internals';
import type { Messenger } from '../cli/program';
import { networkFromFds } from '../engine/network';
import { encodeNotification } from '../engine/report';
import { runTunnel, TunnelOptions } from '../engine/tunnel';
import { programEnvironmentWithout } from './child';
import type { EngineCleartext, EngineProcess } from './engine-process';
import { closeChannels, engineSideOf, programOutlivesTunnel, startWithChannels } from './prog';

export interface UcspiTlsRun {
  prog: string;
  argv: string[];
  /** the network, as this process and prog both have it */
  rfd: number;
  wfd: number;
  keepTlsConfig: boolean;
  /** the in-process engine, or undefined when an engine child drops privileges */
  engine: TunnelOptions | undefined;
  /** starts the engine child on prog's channels (when `engine` is undefined) */
  startChild: (cleartext: Exclude<EngineCleartext, 'new'>) => EngineProcess;
  /** how to run us when a network descriptor is missing */
  howToRun: string;
  say: Messenger;
}

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

export async function runUcspiTls(run: UcspiTlsRun): Promise<number> {
  const { rfd, wfd, say } = run;
  const fatalLine = (message: string): void => {
    try {
      writeSync(2, `${run.prog}: fatal: ${oneLine(message)}\n`);
    } catch {
      // stderr is gone
    }
  };
  const [ctlFd, readFd, writeFd] = protocolFds(rfd, wfd);
  const env = programEnvironmentWithout(process.env, run.keepTlsConfig);
  Object.assign(env, { SSLCTLFD: String(ctlFd), SSLREADFD: String(readFd), SSLWRITEFD: String(writeFd) });
  const { program, channels: ends } = startWithChannels({ argv: run.argv, rfd: readFd, wfd: writeFd }, env, { [rfd]: rfd, [wfd]: wfd, [ctlFd]: 'pipe' });
  // The engine child will read what prog writes to SSLWRITEFD from our end
  // of that channel: this process must not read any of it first (spawn
  // starts reading our ends at once), and nothing has been read yet.
  if (!run.engine) stopReading(ends.fromProgram);
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

  if (!run.engine) {
    try {
      const child = run.startChild({ input: ends.fromProgram, output: ends.toProgram });
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
  const cleartext = engineSideOf(ends, run.argv[0], readFd, writeFd);
  let tunnel: Promise<unknown>;
  try {
    tunnel = runTunnel(
      { network: networkFromFds(rfd, wfd, run.howToRun), cleartext },
      { ...run.engine, onHandshake: (report) => reportTo(encodeNotification(report)), onWriteSideClosed: writeSideClosed },
    );
  } catch (err) {
    tunnel = Promise.reject(err);
  }
  tunnel.catch(() => ctl.destroy());
  return programOutlivesTunnel(program, tunnel, () => cleartext, fatalLine, flushed);
}
