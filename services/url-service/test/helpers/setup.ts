// One home for a migrated test database: the testing entry neighbours use too.
export { localConfig, migratedDatabase, silent } from '../../src/testing.js'
