// What every program does before it has a connection: credentials, the TLS
// context, the key log, then the privilege drop; out comes everything the
// tunnel needs but the descriptors.

import type { EngineConfig } from './config';
import { buildSecureContext, loadCredentials } from './credentials';
import { TrustAnchors } from './anchors';
import { dropPrivileges, willDrop } from './privileges';
import { openKeyLog } from './keylog';
import { pinCheck } from './pins';
import type { TunnelOptions } from './tunnel';
import type { Messenger } from './program';

export function prepareEngine(config: EngineConfig, say: Messenger): TunnelOptions {
  const lazyAnchors = !willDrop(config.drop);
  const creds = loadCredentials(config.trust, config.clientCert, { lazyAnchors });
  const secureContext = buildSecureContext(creds, config);
  const onSocket = config.keyLogFile ? openKeyLog(config.keyLogFile) : undefined;
  dropPrivileges(config.drop);
  if (!config.servername) say.warn('no servername given: SNI not used and the server name is not verified');
  return {
    ...config,
    secureContext,
    trustAnchors: TrustAnchors.fromCredentials(creds),
    onSocket,
    extraCheck: config.pins ? pinCheck(config.pins) : undefined,
    log: (level, message) => (level === 'warning' ? say.warn : level === 'info' ? say.info : say.debug)(message),
  };
}
