export { type AppDeps, buildApp, serviceName } from './app.js'
export { type Config, loadConfig, loadServerConfig, type ServerConfig } from './config.js'
export {
  type CredentialSource,
  type DbCredentials,
  databaseUrlSource,
  parseDbSecret,
  SecretFormatError,
  secretsManagerSource,
} from './db/credentials.js'
export {
  createDatabase,
  credentialSourceFromConfig,
  type Database,
  type DatabaseOptions,
  openDatabase,
} from './db/database.js'
export { migrationsDir, runMigrations } from './db/migrations.js'
export type { Callers, MtlsDeps } from './mtls.js'
export { type RunningUrlService, type StartUrlServiceOptions, startUrlService } from './service.js'
export { ignoreVisits, type Visit, type VisitRecorder } from './visits.js'
