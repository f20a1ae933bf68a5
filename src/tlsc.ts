// How prog and the engine are wired, for s6-tlsc, s6-tlsclient and
// s6-ucspitlsc alike: prog gets two pipes (as the C tools give it), and the
// engine runs on the other ends of those pipes. The engine runs in this
// process, unless root drops privileges for it: then it runs in an
// s6-tlsc-io child on the same pipes (src/engine-process.ts), because this
// process must keep the caller's identity to start prog and to pass it our
// signals (an unprivileged process may not signal a root one).

import { runTunnel, Cleartext, NetworkSide, TunnelOptions } from './tunnel';
import { closeEnds, makePipes, PipeEnds, pipeCleartext, programEnvironment, RunningProgram, startProgramWith } from './child';
import { FatalError } from './errors';
import type { Messenger } from './program';
import type { ConnectionReport } from './report';

export interface ProgramLaunch {
  argv: readonly string[];
  rfd: number;
  wfd: number;
  /** -Z: the program keeps CADIR, CAFILE, ... */
  keepTlsConfig: boolean;
  /**
   * more variables (PROTO, TCPREMOTEIP, ...), or their promise (name
   * lookups that run during the handshake: prog starts once they are done)
   */
  extraEnv?: Record<string, string> | Promise<Record<string, string>>;
}

/** prog's two pipes: it reads `toProgram.read`, it writes `fromProgram.write`. */
export interface ProgramPipes {
  toProgram: PipeEnds;
  fromProgram: PipeEnds;
}

export function programPipes(): ProgramPipes {
  const [toProgram, fromProgram] = makePipes(2);
  return { toProgram, fromProgram };
}

/** Our ends of prog's pipes as the engine's cleartext side; the streams own them from now on. */
export function engineSideOf(pipes: ProgramPipes, progName: string, progReads: number, progWrites: number): Cleartext {
  const side = pipeCleartext(pipes.fromProgram.read, pipes.toProgram.write, {
    input: `${progName} (fd ${progWrites})`,
    output: `${progName} (fd ${progReads})`,
  });
  pipes.fromProgram.read = -1;
  pipes.toProgram.write = -1;
  return side;
}

export function closePipes(pipes: ProgramPipes): void {
  closeEnds([pipes.toProgram, 'read'], [pipes.toProgram, 'write'], [pipes.fromProgram, 'read'], [pipes.fromProgram, 'write']);
}

/** Starts prog with its pipes at rfd/wfd (and `more` descriptors), and closes its ends here. */
export function startOnPipes(
  launch: Pick<ProgramLaunch, 'argv' | 'rfd' | 'wfd'>,
  env: NodeJS.ProcessEnv,
  pipes: ProgramPipes,
  more: Record<number, 'pipe' | number> = {},
): RunningProgram {
  try {
    return startProgramWith(launch.argv, env, { ...more, [launch.rfd]: pipes.toProgram.read, [launch.wfd]: pipes.fromProgram.write });
  } finally {
    closeEnds([pipes.toProgram, 'read'], [pipes.fromProgram, 'write']);
  }
}

/**
 * Once prog and the tunnel both run: prog's exit code is ours. A tunnel
 * that fails is reported by `onTunnelError` (unless prog is gone already)
 * and its cleartext side closed so that prog sees EOF and its writes fail;
 * what prog wrote before it left still goes out before we return.
 */
export async function programOutlivesTunnel(
  program: RunningProgram,
  tunnel: Promise<unknown>,
  cleartext: () => Cleartext | undefined,
  onTunnelError: (message: string) => void,
  flushed: Promise<void>,
): Promise<number> {
  let programExited = false;
  const tunnelEnded = tunnel.then(
    () => undefined,
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
): Promise<number> {
  // The pipes are made once our ClientHello is out, while the server works
  // on its answer (making them blocks this thread for a process spawn), or
  // at the latest when the handshake is done.
  let madePipes: ProgramPipes | undefined;
  const pipes = (): ProgramPipes => (madePipes ??= programPipes());
  let program: RunningProgram | undefined;
  /** the session failed before prog could start: it never will */
  let abandoned = false;
  let cleartext: Cleartext | undefined;
  let report: ConnectionReport | undefined;
  let writeSideClosed!: () => void;
  const flushed = new Promise<void>((resolve) => (writeSideClosed = resolve));
  let started!: (p: RunningProgram) => void;
  let startFailed!: (err: unknown) => void;
  const programStarted = new Promise<RunningProgram>((resolve, reject) => {
    started = resolve;
    startFailed = reject;
  });

  const tunnel = runTunnel(
    {
      network,
      cleartext: () => {
        const side = engineSideOf(pipes(), launch.argv[0], launch.rfd, launch.wfd);
        cleartext = side;
        const start = (extra: Record<string, string> | undefined): void => {
          if (abandoned) return;
          const env = programEnvironment(process.env, report as ConnectionReport, launch.keepTlsConfig, extra);
          program = startOnPipes(launch, env, pipes());
          started(program);
        };
        if (!(launch.extraEnv instanceof Promise)) {
          start(launch.extraEnv);
          return side;
        }
        // What the server sends meanwhile waits in prog's pipe.
        launch.extraEnv.then(start).catch((err: unknown) => {
          side.input.destroy();
          side.output.destroy();
          startFailed(err);
        });
        return side;
      },
    },
    {
      ...engine,
      onSocket: (socket) => {
        engine.onSocket?.(socket);
        setImmediate(() => {
          try {
            pipes();
          } catch {
            // said again, as a fatal error, when the handshake needs them
          }
        });
      },
      onHandshake: (r) => (report = r),
      onWriteSideClosed: writeSideClosed,
    },
  );
  // A failed handshake ends here with the engine's code.
  const first = await Promise.race([programStarted, tunnel.then(() => programStarted, (err: unknown) => {
    if (!program) {
      abandoned = true;
      if (madePipes) closePipes(madePipes);
      throw err;
    }
    return programStarted;
  })]);
  return programOutlivesTunnel(first, tunnel, () => cleartext, (m) => say.warn(`TLS engine: ${m}`), flushed);
}
