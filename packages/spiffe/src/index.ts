export {
  type Authorizer,
  authorizeAny,
  authorizeId,
  authorizeMemberOf,
  authorizeOneOf,
} from './authorize.js'
export { X509Bundle, X509BundleSet, type X509BundleSource } from './bundle.js'
export {
  type SpiffeEnv,
  spiffeEnv,
  spiffeIdSetting,
  trustDomainSetting,
} from './config.js'
export { createX509Source, type SourceSettings } from './create-source.js'
export { DirectorySource, type DirectorySourceOptions, svidFileNames } from './directory-source.js'
export {
  AuthorizationError,
  SourceError,
  SpiffeIdError,
  SvidError,
  type SvidErrorCode,
} from './errors.js'
export { type InstallSpiffeOptions, installSpiffe } from './fastify.js'
export { SpiffeId, TrustDomain } from './id.js'
export { chainFromPeerCertificate, peerChain } from './peer.js'
export { svidReadiness, svidValidity } from './readiness.js'
export { BaseX509Source, type SourceLogger, StaticX509Source, type X509Source } from './source.js'
export { X509Svid } from './svid.js'
export { type MtlsAgentOptions, MtlsDispatcher, type MtlsDispatcherOptions } from './tls-client.js'
export {
  type AttachMtlsOptions,
  attachMtls,
  createMtlsServerOptions,
  mtlsMinVersion,
  mtlsSecureContextOptions,
  peerSpiffeId,
} from './tls-server.js'
export {
  type SvidUsage,
  spiffeIdFromCertificate,
  type VerifyOptions,
  verifyX509Svid,
} from './verify.js'
export { waitForSvid } from './wait.js'
export {
  parseX509SvidResponse,
  WorkloadApiSource,
  type WorkloadApiSourceOptions,
  workloadApiHeader,
  workloadApiProtoPath,
  workloadApiService,
  workloadApiTarget,
  type X509SvidResponseMessage,
} from './workload-api-source.js'
