// s6-tlsd-io: options -> config -> key pairs -> privileges -> tunnel -> exit.
// The network is stdin and stdout, as a UCSPI server (tcpserver) gives them.

import { TLSD_IO_USAGE, tlsdIoConfigFromArgv, tlsdIoOptionTable } from '../server/config';
import { prepareServer } from '../server/prepare';
import { serverEnvironment } from '../server/help';
import { isRoot } from '../engine/privileges';
import { networkFromFds, RUN_UNDER_TCP_SERVER, stdioCleartext } from '../engine/network';
import { runTunnel } from '../engine/tunnel';
import { checkNotificationFd, writeNotification } from '../engine/notification';
import { messenger, runProgram } from '../cli/program';
import { engineExitCodes } from '../cli/help';

const PROG = 's6-tlsd-io';

async function main(): Promise<number> {
  const config = tlsdIoConfigFromArgv(process.argv.slice(2), process.env, isRoot());
  const say = messenger(PROG, config.verbosity);
  if (config.notificationFd !== undefined) checkNotificationFd(config.notificationFd, 0, 1);
  const engine = prepareServer(config, say);
  const network = networkFromFds(0, 1, RUN_UNDER_TCP_SERVER);
  await runTunnel(
    { network, cleartext: stdioCleartext(config.fdr, config.fdw) },
    {
      ...engine,
      onHandshake: (report) => {
        if (config.notificationFd !== undefined) writeNotification(config.notificationFd, report);
      },
    },
  );
  return 0;
}

runProgram(
  {
    name: PROG,
    synopsis: TLSD_IO_USAGE,
    summary: 'The server side of a TLS connection on stdin and stdout (as tcpserver or s6-tcpserver gives it): it answers the client\'s handshake, then moves cleartext from fdr to the client and from the client to fdw, until neither direction can flow.',
    table: tlsdIoOptionTable,
    operands: [
      ['fdr', 'descriptor to read cleartext from (the local application\'s output)'],
      ['fdw', 'descriptor to write cleartext to (the local application\'s input)'],
    ],
    environment: serverEnvironment,
    exitCodes: engineExitCodes,
  },
  main,
);
