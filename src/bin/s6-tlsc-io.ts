// s6-tlsc-io: options -> config -> credentials -> privileges -> tunnel -> exit.

import { configFromArgv, RunConfig, USAGE } from '../config';
import { prepareEngine } from '../engine';
import { isRoot } from '../privileges';
import { networkFromFds, stdioCleartext } from '../network';
import { runTunnel } from '../tunnel';
import { checkNotificationFd, writeNotification } from '../notification';
import { messenger, runProgram } from '../program';

const PROG = 's6-tlsc-io';

async function main(): Promise<number> {
  const config: RunConfig = configFromArgv(process.argv.slice(2), process.env, isRoot());
  const say = messenger(PROG, config.verbosity);
  if (config.notificationFd !== undefined) checkNotificationFd(config.notificationFd, config.fdr, config.fdw);
  const engine = prepareEngine(config, say);

  const network = networkFromFds(config.fdr, config.fdw);
  await runTunnel(
    { network, cleartext: stdioCleartext() },
    {
      ...engine,
      onHandshake: (report) => {
        if (config.notificationFd !== undefined) writeNotification(config.notificationFd, report);
      },
    },
  );
  return 0;
}

runProgram(PROG, USAGE, main);
