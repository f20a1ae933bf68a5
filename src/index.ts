// Library entry: the tunnel and the credential loader, for programs that embed the engine.

export { runTunnel } from './tunnel';
export type { TunnelIo, TunnelOptions, NetworkSide, Cleartext, LogLevel } from './tunnel';
export { loadCredentials, buildSecureContext, loadTrustAnchors, loadCertificateChain, loadPrivateKey } from './credentials';
export type { Credentials } from './credentials';
export type { ConnectionReport } from './report';
export { encodeNotification, reportEntries } from './report';
export { parseServerName } from './config';
export type { SessionPolicy, ServerName, TrustSource } from './config';
export { FatalError, EXIT_OK, EXIT_CONFIG, EXIT_ENGINE, EXIT_TLS, EXIT_USAGE, EXIT_SYSTEM } from './errors';
export { runTlsClient } from './client';
export type { TlsClientOptions, TlsClientNetwork, TunnelOutcome } from './client';
export { startTls, STARTTLS_PROTOCOLS } from './starttls';
export type { PreludeContext } from './starttls';
