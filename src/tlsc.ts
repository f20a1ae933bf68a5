// What s6-tlsc and s6-tlsclient share: run the tunnel, start the program
// after the handshake, wait for both, and pass the program's exit code on.

import { runTunnel, NetworkSide, TunnelOptions } from './tunnel';
import { programEnvironment, RunningProgram, startProgram } from './child';
import { FatalError } from './errors';
import type { Messenger } from './program';
import type { ConnectionReport } from './report';

export interface ProgramLaunch {
  argv: readonly string[];
  rfd: number;
  wfd: number;
  /** -Z: the program keeps CADIR, CAFILE, ... */
  keepTlsConfig: boolean;
  /** more variables (PROTO, TCPREMOTEIP, ...) */
  extraEnv?: Record<string, string>;
}

export async function runWithProgram(
  network: NetworkSide,
  engine: TunnelOptions,
  launch: ProgramLaunch,
  say: Messenger,
): Promise<number> {
  let program: RunningProgram | undefined;
  let programExited = false;
  let started!: (p: RunningProgram) => void;
  const programStarted = new Promise<RunningProgram>((resolve) => (started = resolve));
  let writeSideClosed!: () => void;
  const flushed = new Promise<void>((resolve) => (writeSideClosed = resolve));
  let report: ConnectionReport | undefined;

  const tunnel = runTunnel(
    {
      network,
      cleartext: () => {
        const env = programEnvironment(process.env, report as ConnectionReport, launch.keepTlsConfig, launch.extraEnv);
        program = startProgram(launch.argv, env, launch.rfd, launch.wfd);
        started(program);
        return program.cleartext;
      },
    },
    { ...engine, onHandshake: (r) => (report = r), onWriteSideClosed: writeSideClosed },
  );
  const tunnelEnded = tunnel.then(
    () => undefined,
    (err: unknown) => {
      // A failed handshake ends here with the engine's code: no program was started.
      if (!program) throw err;
      // After the start the program owns the exit code: say what happened
      // (unless it is gone already) and close its side so that it sees EOF.
      if (!programExited) say.warn(`TLS engine: ${err instanceof FatalError ? err.message : String(err)}`);
      program.cleartext.output.destroy();
      program.cleartext.input.destroy();
    },
  );

  const running = await Promise.race([programStarted, tunnelEnded.then(() => programStarted)]);
  const code = await running.exited;
  programExited = true;
  // What the program wrote before it left still goes out.
  await Promise.race([tunnelEnded, flushed]);
  return code;
}
