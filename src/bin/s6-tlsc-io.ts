// s6-tlsc-io: options -> config -> credentials -> privileges -> tunnel -> exit.

import { configFromArgv, RunConfig, tlscIoOptionTable, USAGE } from '../cli/config';
import { prepareEngine } from '../client/prepare';
import { isRoot } from '../engine/privileges';
import { networkFromFds, stdioCleartext } from '../engine/network';
import { runTunnel } from '../engine/tunnel';
import { checkNotificationFd, writeNotification } from '../engine/notification';
import { messenger, runProgram } from '../cli/program';
import { engineExitCodes, familyEnvironment } from '../cli/help';

const PROG = 's6-tlsc-io';

async function main(): Promise<number> {
  const config: RunConfig = configFromArgv(process.argv.slice(2), process.env, isRoot());
  const say = messenger(PROG, config.verbosity);
  if (config.notificationFd !== undefined) checkNotificationFd(config.notificationFd, config.fdr, config.fdw);
  const engine = prepareEngine(config, say);

  const network = networkFromFds(config.fdr, config.fdw);
  await runTunnel(
    { network, cleartext: stdioCleartext(config.inputFd, config.outputFd) },
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
    synopsis: USAGE,
    summary: 'The client side of a TLS connection given as descriptors: TLS handshake over fdr/fdw (usually one TCP socket twice, as a UCSPI client gives 6 and 7), then cleartext from stdin to the server and from the server to stdout, until neither direction can flow.',
    table: tlscIoOptionTable,
    operands: [
      ['fdr', 'descriptor to read ciphertext from'],
      ['fdw', 'descriptor to write ciphertext to (may be fdr\'s socket again)'],
    ],
    environment: familyEnvironment,
    exitCodes: engineExitCodes,
  },
  main,
);
