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
