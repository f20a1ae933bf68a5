// s6-tlsserver: a TLS super-server in one long-lived process. It listens on
// ip port, and for each client: limits, PROXY header (-L), names, access
// rules, banner, the TLS handshake, then prog on socket pairs as its stdin
// and stdout, with the TCP and SSL_* variables. Forked with
// S6_TLSSERVER_SPAWNER set, this same program is the spawner of progs
// (src/wiring/spawner.ts).

import { programExitCodes } from '../cli/help';
import { messenger, runProgram, tunnelLog } from '../cli/program';
import type { Messenger } from '../cli/program';
import { isRoot, dropPrivileges, willDrop } from '../engine/privileges';
import { openKeyLog } from '../engine/keylog';
import type { TunnelOptions } from '../engine/tunnel';
import { serverRole } from '../server/keypairs';
import { serverEnvironment } from '../server/help';
import { serve } from '../server/super-server';
import { rulesFromCdb, rulesFromDir } from '../server/access-rules';
import { readProxyHeader } from '../server/proxy-protocol';
import { TLSSERVER_USAGE, tlsserverConfigFromArgv, tlsserverTable } from '../server/tlsserver-config';
import { localPool, runSpawner, spawnerPool, SpawnerUnavailable, SPAWNER_VARIABLE } from '../wiring/spawner';
import type { ProgramIdentity, ProgramPool } from '../wiring/spawner';

const PROG = 's6-tlsserver';

async function main(): Promise<number> {
  const run = tlsserverConfigFromArgv(process.argv.slice(2), process.env, isRoot());
  const say = messenger(PROG, run.verbosity);
  if (run.lookups.lookups && run.ident) say.warn('IDENT lookups (-r) are not done: TCPREMOTEINFO stays unset');
  if (run.paranoid) say.warn('-p: the remote name is not checked forward');
  // Every file is read now, as root if we are: the key pairs and the anchors.
  const server = serverRole(run.tls);
  // A rules source that cannot be read is a start-up failure, not 111 per client.
  const access = run.rules && (run.rules.kind === 'dir' ? rulesFromDir(run.rules.path) : rulesFromCdb(run.rules.path));
  const pool = await programPool(run.identity, willDrop(run.tls.drop), say);
  const tunnel: TunnelOptions = { ...run.tls, server, log: tunnelLog(say) };
  return serve(
    run,
    {
      tunnel,
      pool,
      access,
      // -L: C waits for the header without a limit; -K, when given, bounds it too.
      readProxy: run.proxy
        ? async (socket) => (await readProxyHeader(socket, { timeoutMs: run.tls.handshakeTimeoutMs })).addresses
        : undefined,
      // Bound (a port under 1024 needs root), then the TLS gives up root
      // before the first client; the key log is opened as who we are then.
      onListening: () => {
        dropPrivileges(run.tls.drop);
        if (run.tls.keyLogFile) tunnel.keyLog = openKeyLog(run.tls.keyLogFile);
      },
    },
    say,
  );
}

/**
 * Where progs start. The Python helper when there is a python3 (or the one
 * S6_TLSSERVER_PYTHON names; empty: none): it starts a prog for much less
 * CPU than Node's spawn. Otherwise our own spawner (a fork of this program)
 * when prog's identity differs from the TLS process's (TLS_UID/TLS_GID, -u,
 * -g, -G, -U), or this process itself.
 */
async function programPool(identity: ProgramIdentity | undefined, dropsTls: boolean, say: Messenger): Promise<ProgramPool> {
  const named = process.env.S6_TLSSERVER_PYTHON;
  const python = named ?? 'python3';
  if (python !== '') {
    try {
      return await spawnerPool({ kind: 'python', python }, identity ?? {});
    } catch (err) {
      if (!(err instanceof SpawnerUnavailable)) throw err;
      // Only a Python the user named is worth a warning when it cannot serve.
      (named === undefined ? say.debug : say.warn)(`progs are started by Node: ${err.message}`);
    }
  }
  return dropsTls || identity ? spawnerPool({ kind: 'node', entry: process.argv[1] }, identity ?? {}) : localPool();
}

if (process.env[SPAWNER_VARIABLE] !== undefined && typeof process.send === 'function') {
  runSpawner((message) => process.stderr.write(`${PROG} (spawner): fatal: ${message}\n`));
} else {
  runProgram(
    {
      name: PROG,
      synopsis: TLSSERVER_USAGE,
      summary: 'TLS super-server: listens on ip port, and for every client runs the TLS server handshake in this one long-lived process, then prog with the cleartext side as its stdin and stdout and the TCP and SSL_* variables in its environment.',
      table: tlsserverTable,
      operands: [
        ['ip', 'the local address to listen on (IPv4 or IPv6)'],
        ['port', 'the port (0: any free port, which -1 then says)'],
        ['prog...', 'the program to run for each client once its handshake succeeded'],
      ],
      environment: [
        ...serverEnvironment,
        ['S6_TLSSERVER_PYTHON', 'the Python 3.8+ that starts each prog (posix_spawn: much less CPU than a spawn from Node); unset: python3 from PATH; empty, or none usable: Node starts prog'],
      ],
      exitCodes: programExitCodes,
    },
    main,
  );
}
