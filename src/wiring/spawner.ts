// Where a super-server's progs are started. In the server's own process
// when nothing about identities differs; otherwise in a spawner: a small
// child process that keeps (or takes) prog's identity and starts every prog,
// while the server process runs TLS as TLS_UID/TLS_GID. An unprivileged
// process can neither start a prog as root or as another user nor signal
// one, so those two jobs live where the identity is right.
//
// The spawner's protocol runs over Node's IPC channel: the server asks for a
// prog (argv, environment), the spawner starts it on two socket pairs and
// hands our ends of them back as IPC handles (SCM_RIGHTS), then reports its
// exit; the server may ask for signals to every prog. Nothing is made in the
// filesystem.

import { fork, spawn, ChildProcess } from 'child_process';
import type { Socket } from 'net';
import { EXIT_SYSTEM, FatalError, describeSystemError } from '../base/errors';
import { stopReading } from '../base/node-internals';
import { startWithChannels, ProgramLaunch, ProgramStart, ProgramStarter } from './prog';
import { PYTHON_SPAWNER, PYTHON_UNUSABLE } from './spawner-python';

/** prog's identity: s6-applyuidgid's -u, -g and -G (or -U's UID, GID and GIDLIST). */
export interface ProgramIdentity {
  uid?: number;
  gid?: number;
  groups?: number[];
}

/** Every prog of a server: how to start one, and how to signal them all. */
export interface ProgramPool {
  start: ProgramStarter;
  /** each signal in turn to every prog still running */
  signalAll(signals: NodeJS.Signals[]): void;
  /** the pool cannot start progs any more (the spawner died): why */
  readonly broken: Promise<string>;
  /** lets the process end once nothing else holds it */
  close(): void;
}

/** progs started here: no identity change, no signal forwarded by default. */
export function localPool(): ProgramPool {
  const running = new Set<ChildProcess>();
  return {
    start: (launch, env) => {
      const run = startWithChannels(launch, env, {}, false);
      running.add(run.program.child);
      const forget = (): boolean => running.delete(run.program.child);
      run.program.exited.then(forget, forget);
      return { program: { exited: run.program.exited, pid: run.program.child.pid }, channels: run.channels };
    },
    signalAll: (signals) => {
      for (const child of running) for (const sig of signals) child.kill(sig);
    },
    broken: new Promise<string>(() => undefined),
    close: () => undefined,
  };
}

/** The variable that tells a forked s6-tlsserver it is the spawner, and with which identity. */
export const SPAWNER_VARIABLE = 'S6_TLSSERVER_SPAWNER';

type ToSpawner =
  | { t: 'start'; id: number; argv: string[]; env: NodeJS.ProcessEnv; rfd: number; wfd: number }
  | { t: 'signal'; signals: NodeJS.Signals[] };

type FromSpawner =
  | { t: 'in'; id: number; pid?: number }
  | { t: 'out'; id: number }
  | { t: 'failed'; id: number; message: string }
  | { t: 'exit'; id: number; code: number }
  | { t: 'ready' };

interface Pending {
  toProgram?: Socket;
  fromProgram?: Socket;
  pid?: number;
  started: (run: ProgramStart) => void;
  failed: (err: unknown) => void;
  exited: (code: number) => void;
  exitFailed: (err: unknown) => void;
}

/**
 * Which program serves as the spawner: our own (a fork of this program, with
 * SPAWNER_VARIABLE set), or a Python interpreter running
 * src/wiring/spawner-python.ts's helper, which starts a prog for a fraction
 * of what a fork of Node costs.
 */
export type SpawnerProgram = { kind: 'node'; entry: string } | { kind: 'python'; python: string };

/** Thrown when the Python helper cannot serve on this machine (no interpreter, or one too old). */
export class SpawnerUnavailable extends Error {}

function startSpawner(program: SpawnerProgram, identity: ProgramIdentity): ChildProcess {
  const env = { ...process.env, [SPAWNER_VARIABLE]: JSON.stringify(identity) };
  // prog's stderr is the server's: the log.
  if (program.kind === 'node') return fork(program.entry, [], { env, stdio: ['ignore', 'ignore', 'inherit', 'ipc'], execArgv: [] });
  // -I: no PYTHON* variable, user site or working directory is looked at; -S:
  // no site module (faster). The helper comes on stdin, which it then closes.
  const child = spawn(program.python, ['-I', '-S', '-', 's6-tlsserver-spawner'], { env, stdio: ['pipe', 'ignore', 'inherit', 'ipc'] });
  child.stdin?.on('error', () => undefined);
  child.stdin?.end(PYTHON_SPAWNER);
  return child;
}

/**
 * Starts the spawner with `identity`; resolves once it has taken that
 * identity and waits for requests. A Python helper that cannot run here
 * rejects with SpawnerUnavailable.
 */
export async function spawnerPool(program: SpawnerProgram, identity: ProgramIdentity): Promise<ProgramPool> {
  const child = startSpawner(program, identity);
  const pending = new Map<number, Pending>();
  let nextId = 1;
  let brokenWhy: string | undefined;
  let broke!: (why: string) => void;
  const broken = new Promise<string>((resolve) => (broke = resolve));
  const fail = (why: string): void => {
    if (brokenWhy !== undefined) return;
    brokenWhy = why;
    for (const p of pending.values()) {
      const err = new FatalError(EXIT_SYSTEM, why);
      p.failed(err);
      p.exitFailed(err);
    }
    pending.clear();
    broke(why);
  };
  let ready!: () => void;
  const isReady = new Promise<void>((resolve, reject) => {
    ready = resolve;
    child.once('exit', (code, signal) =>
      reject(
        // 111: it could not take prog's identity, and said so: as fatal as with our own spawner.
        program.kind === 'python' && code !== EXIT_SYSTEM
          ? new SpawnerUnavailable(code === PYTHON_UNUSABLE ? `${program.python} is too old` : `${program.python} exited (${signal ?? code}) before it was ready`)
          : new FatalError(EXIT_SYSTEM, `the spawner of progs exited (${signal ?? code}) before it was ready`),
      ),
    );
    child.once('error', (err) =>
      reject(
        program.kind === 'python'
          ? new SpawnerUnavailable(`unable to run ${program.python}: ${describeSystemError(err)}`)
          : new FatalError(EXIT_SYSTEM, `unable to start the spawner of progs: ${describeSystemError(err)}`),
      ),
    );
  });
  /** the server let the spawner go: its exit then is no failure */
  let closing = false;
  child.on('exit', (code, signal) => !closing && fail(`the spawner of progs exited (${signal ?? `code ${code}`})`));
  child.on('error', (err) => fail(`the spawner of progs failed: ${describeSystemError(err)}`));
  child.on('message', (m: FromSpawner, handle?: Socket) => {
    if (m.t === 'ready') return ready();
    const p = pending.get(m.id);
    if (!p) {
      handle?.destroy();
      return;
    }
    if (m.t === 'in') Object.assign(p, { toProgram: handle, pid: m.pid });
    else if (m.t === 'out') p.fromProgram = handle;
    else if (m.t === 'failed') {
      pending.delete(m.id);
      const err = new FatalError(EXIT_SYSTEM, m.message);
      p.toProgram?.destroy();
      p.fromProgram?.destroy();
      p.failed(err);
      p.exitFailed(err);
      return;
    } else if (m.t === 'exit') {
      pending.delete(m.id);
      // As Node does with a child's stdin when the child exits: nothing reads
      // it any more, and what is still sent to it is dropped without a word.
      p.toProgram?.destroy();
      return p.exited(m.code);
    }
    if (p.toProgram && p.fromProgram) {
      p.started({
        program: { exited: exitedOf(p), pid: p.pid },
        channels: { toProgram: p.toProgram, fromProgram: p.fromProgram },
      });
    }
  });
  const exits = new WeakMap<Pending, Promise<number>>();
  const exitedOf = (p: Pending): Promise<number> => exits.get(p) as Promise<number>;
  await isReady;
  return {
    start: (launch, env) =>
      new Promise<ProgramStart>((started, failed) => {
        if (brokenWhy !== undefined) return failed(new FatalError(EXIT_SYSTEM, brokenWhy));
        const id = nextId++;
        const p = { started, failed } as Pending;
        const exited = new Promise<number>((resolve, reject) => Object.assign(p, { exited: resolve, exitFailed: reject }));
        // A start that fails rejects both; the exit's rejection is the tunnel's to see only once it started.
        exited.catch(() => undefined);
        exits.set(p, exited);
        pending.set(id, p);
        const request: ToSpawner = { t: 'start', id, argv: [...launch.argv], env, rfd: launch.rfd, wfd: launch.wfd };
        child.send(request);
      }),
    signalAll: (signals) => {
      if (brokenWhy === undefined && child.connected) child.send({ t: 'signal', signals } satisfies ToSpawner);
    },
    broken,
    close: () => {
      closing = true;
      if (child.connected) child.disconnect();
    },
  };
}

/** setgroups, setgid, setuid, in that order: the uid last, since it ends the right to change the others. */
function takeIdentity(identity: ProgramIdentity): void {
  try {
    if (identity.groups) process.setgroups?.(identity.groups);
    else if (identity.gid !== undefined) process.setgroups?.([identity.gid]);
    if (identity.gid !== undefined) process.setgid?.(identity.gid);
    if (identity.uid !== undefined) process.setuid?.(identity.uid);
  } catch (err) {
    throw new FatalError(EXIT_SYSTEM, `unable to take prog's identity ${JSON.stringify(identity)}: ${describeSystemError(err)}`);
  }
}

/**
 * The spawner's own life (a forked s6-tlsserver with SPAWNER_VARIABLE set):
 * take prog's identity, then start progs on request until the server goes.
 * Its progs are not killed when it ends: like the children of the C
 * s6-tcpserverd, they finish on their own.
 */
export function runSpawner(say: (message: string) => void): void {
  const identity = JSON.parse(process.env[SPAWNER_VARIABLE] ?? '{}') as ProgramIdentity;
  delete process.env[SPAWNER_VARIABLE];
  try {
    takeIdentity(identity);
  } catch (err) {
    say(err instanceof Error ? err.message : String(err));
    process.exitCode = EXIT_SYSTEM;
    process.disconnect?.();
    return;
  }
  const running = new Set<ChildProcess>();
  const send = (m: FromSpawner, handle?: Socket): void => {
    if (process.connected) process.send?.(m, handle);
  };
  process.on('message', (m: ToSpawner) => {
    if (m.t === 'signal') {
      for (const child of running) for (const sig of m.signals) child.kill(sig);
      return;
    }
    if (m.t !== 'start') return;
    let run: ReturnType<typeof startWithChannels>;
    try {
      run = startWithChannels({ argv: m.argv, rfd: m.rfd, wfd: m.wfd } as Pick<ProgramLaunch, 'argv' | 'rfd' | 'wfd'>, m.env, {}, false);
    } catch (err) {
      return send({ t: 'failed', id: m.id, message: err instanceof Error ? err.message : String(err) });
    }
    // Node began reading prog's output here: what it read would stay in this
    // process and never reach the server (prog's first line, and more).
    stopReading(run.channels.fromProgram);
    const { child } = run.program;
    running.add(child);
    run.program.exited.then(
      (code) => {
        running.delete(child);
        send({ t: 'exit', id: m.id, code });
      },
      (err: unknown) => {
        running.delete(child);
        send({ t: 'failed', id: m.id, message: err instanceof Error ? err.message : String(err) });
      },
    );
    // Our copies close once sent: prog's channels then belong to the server.
    send({ t: 'in', id: m.id, pid: child.pid }, run.channels.toProgram);
    send({ t: 'out', id: m.id }, run.channels.fromProgram);
  });
  // The server is gone: nothing more to start; progs finish on their own.
  process.on('disconnect', () => process.removeAllListeners('message'));
  send({ t: 'ready' });
}
