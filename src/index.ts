// Library entry: the tunnel and the credential loader, for programs that embed the engine.

export { runTunnel } from './engine/tunnel';
export type { TunnelIo, TunnelOptions, NetworkSide, Cleartext, LogLevel } from './engine/tunnel';
export { loadCredentials, buildSecureContext, loadTrustAnchors, loadCertificateChain, loadPrivateKey } from './trust/credentials';
export type { Credentials } from './trust/credentials';
export type { ConnectionReport } from './engine/report';
export { encodeNotification, reportEntries } from './engine/report';
export { parseServerName } from './cli/config';
export type { SessionPolicy, ServerName, TrustSource } from './cli/config';
export { FatalError, EXIT_OK, EXIT_CONFIG, EXIT_ENGINE, EXIT_TLS, EXIT_USAGE, EXIT_SYSTEM } from './base/errors';
export { runTlsClient } from './client/library';
export type { TlsClientOptions, TlsClientNetwork, TunnelOutcome } from './client/library';
export { startTls, STARTTLS_PROTOCOLS } from './client/starttls';
export { runTlsServer } from './server/library';
export type { TlsServerOptions, TlsServerNetwork } from './server/library';
export type { PreludeContext } from './client/starttls';
