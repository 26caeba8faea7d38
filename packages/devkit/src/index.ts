export {
  fakeCredentials,
  type IssuedCredentials,
  type LocalAws,
  type LocalAwsOptions,
  type PodIdentityAgent,
  type RecordedAwsRequest,
  startLocalAws,
  startPodIdentityAgent,
} from './local-aws.js'
export {
  type InitScript,
  type LocalstackOptions,
  type LocalstackStandin,
  startLocalstackStandin,
} from './localstack/server.js'
export { type ExportedSpan, parseOtlpLines } from './otlp-json.js'
export { type OtlpReceiver, startOtlpReceiver } from './otlp-receiver.js'
export {
  canConnect,
  createTestDatabase,
  defaultAdminUrl,
  type EmbeddedOptions,
  type EmbeddedServer,
  freePort,
  startEmbeddedPostgres,
  type TestDatabase,
  testAdminUrl,
} from './postgres.js'
export { runScript, type ScriptResult } from './run-script.js'
export {
  generatePassword,
  type LocalSecretsManager,
  type RecordedRequest,
  readSecretsManagerRequest,
  SecretsStore,
  startLocalSecretsManager,
} from './secrets-manager.js'
export {
  type FauxqsServer,
  type LocalSqs,
  type LocalSqsOptions,
  relayToSqs,
  type SqsRelayOptions,
  startLocalSqs,
} from './sqs.js'
export { type EntryProcess, startEntry } from './stack/entry.js'
export { formatLogLine, prefixer } from './stack/logs.js'
export { ManagedProcess, type ProcessSpec } from './stack/process.js'
export {
  type AppDatabaseNames,
  devPorts,
  ensureDatabase,
  PortInUseError,
  randomPorts,
  type ServiceName,
  type Stack,
  type StackOptions,
  type StackPorts,
  serviceNodeArgs,
  startStack,
} from './stack/stack.js'
export { isPortFree, waitForOk } from './stack/wait.js'
export { formatTraces } from './trace-tree.js'
export { readZipEntry } from './zip.js'
