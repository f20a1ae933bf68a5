// How prog and the engine are wired, for s6-tlsc, s6-tlsclient and
// s6-ucspitlsc alike: prog gets two socket pairs (the C tools give pipes;
// Node has no pipe(2), and spawn's 'pipe' makes socket pairs without
// touching the filesystem), and the engine runs on the other ends. The
// engine runs in this process, unless root drops privileges for it: then it
// runs in an s6-tlsc-io child on the same channels (src/wiring/engine-process.ts), because this
// process must keep the caller's identity to start prog and to pass it our
// signals (an unprivileged process may not signal a root one).

import type { Socket } from 'net';
import { Readable, Writable } from 'stream';
import { runTunnel, Cleartext, NetworkSide, TunnelOptions } from '../engine/tunnel';
import { programEnvironment, ProgramDescriptor, RunningProgram, socketCleartext, startProgramWith } from './child';
import { STREAM_BUFFER } from '../engine/fds';
import { FatalError } from '../base/errors';
import type { Messenger } from '../cli/program';
import type { ConnectionReport } from '../engine/report';

export interface ProgramLaunch {
  argv: readonly string[];
  rfd: number;
  wfd: number;
  /** -Z: the program keeps CADIR, CAFILE, ... */
  keepTlsConfig: boolean;
  /** the environment prog's is made from (default: ours) */
  baseEnv?: NodeJS.ProcessEnv;
  /**
   * more variables (PROTO, TCPREMOTEIP, ...), or their promise (name
   * lookups that run during the handshake: prog starts once they are done)
   */
  extraEnv?: Record<string, string> | Promise<Record<string, string>>;
}

/** Our ends of prog's two socket pairs: prog reads what we write to `toProgram`, and writes what we read from `fromProgram`. */
export interface ProgramChannels {
  toProgram: Socket;
  fromProgram: Socket;
}

/**
 * Starts prog with a new socket pair at each of rfd and wfd (and `more`
 * descriptors) and returns our ends. Nothing is made in the filesystem.
 */
export function startWithChannels(
  launch: Pick<ProgramLaunch, 'argv' | 'rfd' | 'wfd'>,
  env: NodeJS.ProcessEnv,
  more: Record<number, ProgramDescriptor> = {},
  forwardSignals = true,
): { program: RunningProgram; channels: ProgramChannels } {
  const program = startProgramWith(launch.argv, env, { ...more, [launch.rfd]: 'pipe', [launch.wfd]: 'pipe' }, forwardSignals);
  const stdio = program.child.stdio;
  return { program, channels: { toProgram: stdio[launch.rfd] as Socket, fromProgram: stdio[launch.wfd] as Socket } };
}

/** A started prog as the tunnel needs it: its exit code to come, and our ends of its channels. */
export interface ProgramStart {
  program: { exited: Promise<number>; pid?: number };
  channels: ProgramChannels;
}

/** How prog is started: here (startWithChannels), or by a process of another identity (src/wiring/spawner.ts). */
export type ProgramStarter = (launch: Pick<ProgramLaunch, 'argv' | 'rfd' | 'wfd'>, env: NodeJS.ProcessEnv) => ProgramStart | Promise<ProgramStart>;

/** Our ends of prog's channels as the engine's cleartext side. */
export function engineSideOf(channels: ProgramChannels, progName: string, progReads: number, progWrites: number): Cleartext {
  return socketCleartext(channels.fromProgram, channels.toProgram, {
    input: `${progName} (fd ${progWrites})`,
    output: `${progName} (fd ${progReads})`,
  });
}

export function closeChannels(channels: ProgramChannels): void {
  channels.toProgram.destroy();
  channels.fromProgram.destroy();
}

/**
 * Once prog and the tunnel both run: prog's exit code is ours. Once the
 * tunnel is over, prog's writes fail. A tunnel that fails is reported by `onTunnelError` (unless prog is gone already)
 * and its cleartext side closed so that prog sees EOF and its writes fail;
 * what prog wrote before it left still goes out before we return.
 */
export async function programOutlivesTunnel(
  program: ProgramStart['program'],
  tunnel: Promise<unknown>,
  cleartext: () => Cleartext | undefined,
  onTunnelError: (message: string) => void,
  flushed: Promise<void>,
): Promise<number> {
  let programExited = false;
  const tunnelEnded = tunnel.then(
    // The tunnel is over: what prog writes from now on goes nowhere, and
    // must fail (EPIPE) rather than fill a channel no one reads, as when
    // the C engine has exited.
    () => cleartext()?.input.destroy(),
    (err: unknown) => {
      if (!programExited) onTunnelError(err instanceof FatalError ? err.message : String(err));
      const side = cleartext();
      side?.output.destroy();
      side?.input.destroy();
    },
  );
  const code = await program.exited;
  programExited = true;
  await Promise.race([tunnelEnded, flushed]);
  return code;
}

/**
 * s6-tlsc and s6-tlsclient in one process: the handshake, then prog on the
 * pipes with the report in its environment. A failed handshake rejects
 * with the engine's error: no program was started.
 */
export async function runWithProgram(
  network: NetworkSide,
  engine: TunnelOptions,
  launch: ProgramLaunch,
  say: Messenger,
  starter: ProgramStarter = startWithChannels,
): Promise<number> {
  let program: ProgramStart['program'] | undefined;
  let cleartext: Cleartext | undefined;
  let report: ConnectionReport | undefined;
  let writeSideClosed!: () => void;
  const flushed = new Promise<void>((resolve) => (writeSideClosed = resolve));
  let started!: (p: ProgramStart['program']) => void;
  let startFailed!: (err: unknown) => void;
  const programStarted = new Promise<ProgramStart['program']>((resolve, reject) => {
    started = resolve;
    startFailed = reject;
  });
  // The variables of name lookups that run during the handshake: known by
  // its end, most of the time.
  const extra = settledValue(launch.extraEnv);
  const names = { progName: launch.argv[0], rfd: launch.rfd, wfd: launch.wfd };
  const sideOf = (channels: ProgramChannels): Cleartext => engineSideOf(channels, names.progName, names.rfd, names.wfd);

  const start = (vars: Record<string, string> | undefined): ProgramChannels | Promise<ProgramChannels> => {
    const env = programEnvironment(launch.baseEnv ?? process.env, report as ConnectionReport, launch.keepTlsConfig, vars);
    const use = (run: ProgramStart): ProgramChannels => {
      program = run.program;
      started(program);
      return run.channels;
    };
    const run = starter(launch, env);
    return run instanceof Promise ? run.then(use) : use(run);
  };
  /** prog's channels come later: what the client sends meanwhile waits in a stand-in. */
  const later = (channels: Promise<ProgramChannels>): Cleartext => {
    const stand = deferredCleartext(channels.then(sideOf), { input: `${names.progName} (fd ${names.wfd})`, output: `${names.progName} (fd ${names.rfd})` });
    stand.failed.catch(startFailed);
    return stand.side;
  };
  const tunnel = runTunnel(
    {
      network,
      cleartext: () => {
        if (extra.settled) {
          if (extra.error !== undefined) throw extra.error;
          const channels = start(extra.value);
          cleartext = channels instanceof Promise ? later(channels) : sideOf(channels);
        } else {
          // The lookups are still running.
          cleartext = later((launch.extraEnv as Promise<Record<string, string>>).then(start));
        }
        return cleartext;
      },
    },
    {
      ...engine,
      onHandshake: (r) => (report = r),
      onWriteSideClosed: writeSideClosed,
    },
  );
  // A failed handshake ends here with the engine's code.
  const first = await Promise.race([programStarted, tunnel.then(() => programStarted, (err: unknown) => {
    if (!program) throw err;
    return programStarted;
  })]);
  return programOutlivesTunnel(first, tunnel, () => cleartext, (m) => say.warn(`TLS engine: ${m}`), flushed);
}

interface Settled<T> {
  settled: boolean;
  value?: T;
  error?: unknown;
}

/** A value, or a promise whose outcome is filled in when it settles. */
function settledValue<T>(value: T | Promise<T>): Settled<T> {
  if (!(value instanceof Promise)) return { settled: true, value };
  const state: Settled<T> = { settled: false };
  value.then(
    (v) => Object.assign(state, { settled: true, value: v }),
    (err: unknown) => Object.assign(state, { settled: true, error: err ?? new Error('lookup failed') }),
  );
  return state;
}

/**
 * A cleartext side that stands in for one not made yet: writes wait for it
 * (with backpressure), reads come from it once it exists, destroying either
 * destroys it. `failed` rejects if it never comes.
 */
function deferredCleartext(real: Promise<Cleartext>, names: { input: string; output: string }): { side: Cleartext; failed: Promise<never> } {
  let target: Cleartext | undefined;
  /** prog never started: there will be no real side */
  let gone = false;
  const waiting: (() => void)[] = [];
  const whenReady = (f: () => void): void => {
    if (target || gone) f();
    else waiting.push(f);
  };
  // Not destroyed at their end by Node: that would destroy the real side
  // before its own end (a shutdown prog must read as EOF) has gone out.
  const output = new Writable({
    highWaterMark: STREAM_BUFFER,
    autoDestroy: false,
    write(chunk: Buffer, _encoding, cb) {
      whenReady(() => {
        const out = target?.output;
        if (!out || out.write(chunk)) cb();
        else out.once('drain', () => cb());
      });
    },
    destroy(err, cb) {
      target?.output.destroy();
      cb(err);
    },
  });
  const input = new Readable({
    highWaterMark: STREAM_BUFFER,
    autoDestroy: false,
    read() {
      target?.input.resume();
    },
    destroy(err, cb) {
      target?.input.destroy();
      cb(err);
    },
  });
  let fail!: (err: unknown) => void;
  const failed = new Promise<never>((_resolve, reject) => (fail = reject));
  real.then(
    (side) => {
      target = side;
      if (output.destroyed) side.output.destroy();
      if (input.destroyed) side.input.destroy();
      side.output.on('error', (err) => output.destroy(err));
      side.input.on('data', (chunk: Buffer) => {
        if (!input.push(chunk)) side.input.pause();
      });
      side.input.on('end', () => input.push(null));
      side.input.on('error', (err) => input.destroy(err));
      for (const f of waiting.splice(0)) f();
    },
    (err: unknown) => {
      // As a prog that could not start here: it says nothing (EOF, so the
      // tunnel sends its close_notify), and what is written to it is
      // dropped, as Node drops writes to the stdin of a child that is gone.
      gone = true;
      input.push(null);
      for (const f of waiting.splice(0)) f();
      fail(err);
    },
  );
  return {
    side: {
      input,
      output,
      endOutput: (done) => output.end(() => whenReady(() => (target?.endOutput ? target.endOutput(done) : done()))),
      inputName: names.input,
      outputName: names.output,
    },
    failed,
  };
}
