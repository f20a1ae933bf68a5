// s6-tlsc-io: options -> config -> credentials -> privileges -> tunnel -> exit.

import { configFromArgv, RunConfig, USAGE } from '../config';
import { buildSecureContext, loadCredentials } from '../credentials';
import { dropPrivileges, isRoot } from '../privileges';
import { FdInfo, finishWritable, inspectFd, openReadable, openSocket, openWritable, sameSocket } from '../fds';
import { NetworkSide, runTunnel } from '../tunnel';
import { writeNotification } from '../notification';
import { messenger, runProgram } from '../program';

const PROG = 's6-tlsc-io';

function networkSide(fdr: FdInfo, fdw: FdInfo): NetworkSide {
  if (sameSocket(fdr, fdw)) return { kind: 'socket', socket: openSocket(fdr) };
  const writable = openWritable(fdw);
  return {
    kind: 'split',
    readable: openReadable(fdr),
    writable,
    endWritable: (done) => finishWritable(writable, fdw, done),
  };
}

async function main(): Promise<number> {
  const config: RunConfig = configFromArgv(process.argv.slice(2), process.env, isRoot());
  const say = messenger(PROG, config.verbosity);
  const secureContext = buildSecureContext(loadCredentials(config.trust, config.clientCert));
  dropPrivileges(config.drop);
  if (!config.servername) say.warn('no servername given: SNI not used and the server name is not verified');

  const fdr = inspectFd(config.fdr, 'fdr');
  const fdw = inspectFd(config.fdw, 'fdw');
  const stdin = inspectFd(0, 'stdin');
  const stdout = inspectFd(1, 'stdout');
  const output = openWritable(stdout);
  await runTunnel(
    {
      network: networkSide(fdr, fdw),
      cleartext: { input: openReadable(stdin), output, endOutput: (done) => finishWritable(output, stdout, done) },
    },
    {
      ...config,
      secureContext,
      onHandshake: (report) => {
        if (config.notificationFd !== undefined) writeNotification(config.notificationFd, report);
      },
      log: (level, message) => (level === 'warning' ? say.warn : level === 'info' ? say.info : say.debug)(message),
    },
  );
  return 0;
}

runProgram(PROG, USAGE, main);
