// What every program does before it has a connection: credentials, the TLS
// context, the privilege drop, then the key log (opened as the user the
// program runs as from then on); out comes everything the tunnel needs but
// the descriptors.

import type { EngineConfig } from '../cli/config';
import { buildSecureContext, loadCredentials } from '../trust/credentials';
import { TrustAnchors } from '../trust/anchors';
import { dropPrivileges, willDrop } from '../engine/privileges';
import { openKeyLog } from '../engine/keylog';
import { pinCheck } from '../trust/pins';
import type { TunnelOptions } from '../engine/tunnel';
import { tunnelLog, type Messenger } from '../cli/program';

export function prepareEngine(config: EngineConfig, say: Messenger): TunnelOptions {
  // A program process is ours alone: its default store may serve CADIR
  // lazily, unless privileges are dropped, since lookups would then read
  // CADIR after the drop (SPEC section 3 wants every file read before it).
  const processStore = !willDrop(config.drop);
  const credentials = loadCredentials(config.trust, config.clientCert, { processStore });
  say.debug(credentials.anchorDir === undefined
    ? `trust anchors: ${credentials.ca.length} loaded from ${config.trust.path}`
    : `trust anchors: looked up by OpenSSL in ${credentials.anchorDir} when needed`);
  const secureContext = buildSecureContext(credentials, config);
  dropPrivileges(config.drop);
  const keyLog = config.keyLogFile ? openKeyLog(config.keyLogFile) : undefined;
  if (!config.servername) say.warn('no servername given: SNI not used and the server name is not verified');
  return {
    ...config,
    secureContext,
    trustAnchors: TrustAnchors.fromCredentials(credentials),
    keyLog,
    extraCheck: config.pins ? pinCheck(config.pins) : undefined,
    log: tunnelLog(say),
  };
}
