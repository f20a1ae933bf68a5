// What every server program does before it has a connection: key pairs and
// anchors, the privilege drop, then the key log (opened as the user the
// program runs as from then on); out comes everything the tunnel needs but
// the descriptors. The client's counterpart is src/client/prepare.ts.

import { dropPrivileges } from '../engine/privileges';
import { openKeyLog } from '../engine/keylog';
import type { TunnelOptions } from '../engine/tunnel';
import { tunnelLog, type Messenger } from '../cli/program';
import { serverRole } from './keypairs';
import type { ServerConfig } from './config';

export function prepareServer(config: ServerConfig, say: Messenger): TunnelOptions {
  const server = serverRole(config);
  const pairs = config.namedPairs.length;
  say.debug(`key pairs: ${config.keyPair ? 'KEYFILE/CERTFILE' : 'no default'}${pairs ? ` and ${pairs} named for SNI (level ${config.sniLevel})` : ''}`);
  dropPrivileges(config.drop);
  const keyLog = config.keyLogFile ? openKeyLog(config.keyLogFile) : undefined;
  return {
    ...config,
    server,
    keyLog,
    log: tunnelLog(say),
  };
}
