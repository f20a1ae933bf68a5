// s6-tlsserver's long-lived part: it listens, accepts, and runs the TLS of
// every connection in this one process; only prog is started per connection
// (here, or by the spawner when identities differ: src/wiring/spawner.ts).
// What the C chain does in s6-tcpserverd (limits, TCPCONNNUM, signals),
// s6-tcpserver-access (rules, names, banner, Nagle), proxy-server (-L) and
// s6-tlsd happens here, in that order, for each connection.

import { createServer, Server, Socket } from 'net';
import { closeSync, openSync, writeSync } from 'fs';
import { EXIT_OK, EXIT_SYSTEM, FatalError, describeSystemError } from '../base/errors';
import type { Messenger } from '../cli/program';
import type { TunnelOptions } from '../engine/tunnel';
import type { ProgramPool } from '../wiring/spawner';
import { endsOf, tcpVariables, TcpEnds } from '../wiring/tcp-environment';
import { runWithProgram, ProgramStart } from '../wiring/prog';
import type { AccessRules } from './access-rules';


export interface SuperServerConfig {
  ip: string;
  port: number;
  backlog?: number;
  /** -c: connections at once, all clients */
  maxConn: number;
  /** -C: connections at once from one address */
  localMaxConn: number;
  /** -1: the port and a newline on stdout once listening, then stdout closed */
  announcePort: boolean;
  /** name lookups (unless -H), the hosts database first (-h), -l, -t */
  lookups: { lookups: boolean; hosts: boolean; localName?: string; timeoutMs?: number };
  /** -D: TCP_NODELAY */
  noDelay: boolean;
  /** -B: written in cleartext before the handshake */
  banner?: string;
  /** prog and its arguments */
  argv: string[];
  /** -Z */
  keepTlsConfig: boolean;
  /** the environment every prog's starts from (UID, GID, GIDLIST gone under -U) */
  baseEnv: NodeJS.ProcessEnv;
}

export interface SuperServerParts {
  /** the TLS of one connection, with the key pairs read once */
  tunnel: TunnelOptions;
  pool: ProgramPool;
  /** -i / -x */
  access?: AccessRules;
  /** -L: the client's real ends from a PROXY header (undefined: keep the socket's) */
  readProxy?: (socket: Socket) => Promise<TcpEnds | undefined>;
  /** called once listening, before the first accept: the privilege drop */
  onListening?: (server: Server) => void;
}

/** The server socket, bound and listening, or a fatal error in the C tools' words. */
export function listen(config: SuperServerConfig): Promise<Server> {
  const server = createServer({ pauseOnConnect: true, allowHalfOpen: true });
  return new Promise((resolve, reject) => {
    server.once('error', (err) => reject(new FatalError(EXIT_SYSTEM, `unable to bind to ${config.ip} port ${config.port}: ${describeSystemError(err)}`)));
    server.listen({ host: config.ip, port: config.port, backlog: config.backlog, ipv6Only: config.ip.includes(':') }, () => resolve(server));
  });
}

/** -1: s6's readiness; stdout is closed after it, and /dev/null takes its place so that no later descriptor lands on 1. */
function announce(port: number): void {
  try {
    writeSync(1, `${port}\n`);
  } catch (err) {
    throw new FatalError(EXIT_SYSTEM, `unable to write the port to stdout: ${describeSystemError(err)}`);
  }
  closeSync(1);
  openSync('/dev/null', 'w');
}

/**
 * Serves until a signal ends it; resolves with the exit code once the last
 * connection is over. A failure in one connection is that connection's
 * only: it is logged, and the others go on.
 */
export async function serve(config: SuperServerConfig, parts: SuperServerParts, say: Messenger): Promise<number> {
  const server = await listen(config);
  parts.onListening?.(server);
  const port = (server.address() as { port: number }).port;
  say.info(`starting - bound to ip ${config.ip} port ${port}`);
  if (config.announcePort) announce(port);

  const perAddress = new Map<string, number>();
  const sockets = new Set<Socket>();
  let open = 0;
  let quitting = false;
  let done!: (code: number) => void;
  const finished = new Promise<number>((resolve) => (done = resolve));
  const status = (): string => `${open}/${config.maxConn}`;
  const maybeDone = (): void => {
    if (quitting && open === 0) {
      say.info('exiting');
      removeSignals();
      parts.pool.close();
      done(EXIT_OK);
    }
  };

  const quit = (): void => {
    if (quitting) return;
    quitting = true;
    server.close();
    maybeDone();
  };
  const signals: Partial<Record<NodeJS.Signals, () => void>> = {
    // Open connections are left to finish, as the C server leaves its children.
    SIGTERM: () => {
      say.info('received SIGTERM, quitting');
      quit();
    },
    SIGHUP: () => {
      say.info('received SIGHUP, sending SIGTERM and SIGCONT to all connections');
      parts.pool.signalAll(['SIGTERM', 'SIGCONT']);
    },
    SIGQUIT: () => {
      say.info('received SIGQUIT, sending SIGTERM and SIGCONT to all connections and quitting');
      parts.pool.signalAll(['SIGTERM', 'SIGCONT']);
      quit();
    },
    // Nothing is left to finish: every prog is killed and every connection cut.
    SIGABRT: () => {
      say.info('received SIGABRT, sending SIGKILL to all connections and quitting');
      parts.pool.signalAll(['SIGKILL']);
      quit();
      for (const s of sockets) s.destroy();
    },
  };
  for (const [sig, handler] of Object.entries(signals)) process.on(sig, handler as () => void);
  const removeSignals = (): void => {
    for (const [sig, handler] of Object.entries(signals)) process.removeListener(sig, handler as () => void);
  };
  parts.pool.broken.then((why) => {
    say.warn(`${why}: no more connections are served`);
    quit();
  });

  server.on('connection', (socket: Socket) => {
    socket.on('error', () => undefined);
    const ends = endsOf(socket);
    const where = `${ends.remoteIp} port ${ends.remotePort}`;
    const count = perAddress.get(ends.remoteIp) ?? 0;
    if (quitting) return void socket.destroy();
    if (open >= config.maxConn) {
      say.warn(`reject ${where}: ${open} connections open, the most -c allows`);
      return void socket.destroy();
    }
    if (count >= config.localMaxConn) {
      say.warn(`reject ${where}: ${count} connections open from ${ends.remoteIp}, the most -C allows`);
      return void socket.destroy();
    }
    open++;
    perAddress.set(ends.remoteIp, count + 1);
    sockets.add(socket);
    const connNum = count + 1;
    connection(socket, ends, connNum, config, parts, say).finally(() => {
      open--;
      const left = (perAddress.get(ends.remoteIp) ?? 1) - 1;
      if (left > 0) perAddress.set(ends.remoteIp, left);
      else perAddress.delete(ends.remoteIp);
      sockets.delete(socket);
      socket.destroy();
      say.info(`status: ${status()}`);
      maybeDone();
    });
  });
  server.on('error', (err) => say.warn(`unable to accept: ${describeSystemError(err)}`));
  return finished;
}

/** One connection, from accept to its end; never rejects. */
async function connection(socket: Socket, accepted: TcpEnds, connNum: number, config: SuperServerConfig, parts: SuperServerParts, say: Messenger): Promise<void> {
  let where = `${accepted.remoteIp} port ${accepted.remotePort}`;
  let pid: number | undefined;
  /** the tunnel took the socket: it alone decides when it closes */
  let started = false;
  try {
    const ends = (parts.readProxy && (await parts.readProxy(socket))) || accepted;
    if (ends !== accepted) where = `${ends.remoteIp} port ${ends.remotePort} (through ${accepted.remoteIp} port ${accepted.remotePort})`;
    const vars = await tcpVariables(ends, config.lookups);
    // As the C chain builds it: s6-tcpserverd's variables, then the rule's
    // changes, then the names s6-tcpserver-access looked up, which win.
    const env: NodeJS.ProcessEnv = { ...config.baseEnv, PROTO: 'TCP', TCPCONNNUM: String(connNum) };
    const apply = (changes: Iterable<[string, string | undefined]>): void => {
      for (const [name, value] of changes) {
        if (value === undefined) delete env[name];
        else env[name] = value;
      }
    };
    const names = ['TCPLOCALHOST', 'TCPREMOTEHOST', 'TCPREMOTEINFO'];
    apply(Object.entries(vars).filter(([name]) => !names.includes(name)));
    let argv = config.argv;
    if (parts.access) {
      // The client's own address (from the PROXY header under -L).
      const answer = parts.access.check(ends.remoteIp, vars.TCPREMOTEHOST);
      if (answer.kind !== 'allow') {
        say.info(`deny ${where}${answer.kind === 'none' ? ': no rule allows it' : ''}`);
        return;
      }
      apply(answer.env);
      // An exec rule replaces prog, as s6-tcpserver-access does, run by execline.
      if (answer.exec !== undefined) argv = ['execlineb', '-c', answer.exec];
    }
    apply(Object.entries(vars).filter(([name]) => names.includes(name)));
    if (config.noDelay) socket.setNoDelay(true);
    if (config.banner !== undefined) socket.write(config.banner);
    const log = parts.tunnel.log;
    started = true;
    const code = await runWithProgram(
      { kind: 'socket', socket },
      { ...parts.tunnel, log: log && ((level, message) => log(level, `${where}: ${message}`)) },
      { argv, rfd: 0, wfd: 1, keepTlsConfig: config.keepTlsConfig, baseEnv: env },
      say,
      (launch, progEnv) => {
        const noted = (run: ProgramStart): ProgramStart => {
          pid = run.program.pid;
          say.info(`accept ${where} pid ${pid ?? '?'} count ${connNum}/${config.localMaxConn}`);
          return run;
        };
        // Started here, prog's channels are there at once; a spawner's come later.
        const run = parts.pool.start(launch, progEnv);
        return run instanceof Promise ? run.then(noted) : noted(run);
      },
    );
    say.info(`end pid ${pid ?? '?'} ${code > 128 && code < 160 ? `signal ${code - 128}` : `exitcode ${code}`} ${where}`);
  } catch (err) {
    say.warn(`${where}: ${err instanceof Error ? err.message : String(err)}`);
  }
  // prog is gone, but the session may still be sending its last bytes and
  // our end: the tunnel closes the socket when it is over (its own bounds
  // see to that). Destroying it sooner would drop what is still queued.
  if (!socket.destroyed && started) await new Promise((resolve) => socket.once('close', resolve));
}
