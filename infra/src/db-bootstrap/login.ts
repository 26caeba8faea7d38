import type pg from 'pg'

export interface AppLogin {
  /** The base login the stack names (zt_app); rotation later adds <name>_clone as its member. */
  readonly username: string
  /** Its first password, from the application secret. */
  readonly password: string
  readonly database: string
}

/**
 * Creates the application login once and makes it the owner of the
 * database: on PostgreSQL 15+ that owns the `public` schema too, so
 * migrations work, and nothing else (no CREATEROLE, CREATEDB, superuser).
 * Idempotent: an existing login keeps its password, because after the first
 * rotation Secrets Manager, not this code, owns it.
 * Returns whether the login was created.
 */
export async function ensureAppLogin(client: pg.Client, login: AppLogin): Promise<boolean> {
  const user = client.escapeIdentifier(login.username)
  const database = client.escapeIdentifier(login.database)
  await client.query('BEGIN')
  try {
    const existing = await client.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [
      login.username,
    ])
    const created = existing.rowCount === 0
    if (created) {
      // Utility statements take no bind parameters: escape the literal.
      await client.query(
        `CREATE ROLE ${user} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD ${client.escapeLiteral(login.password)}`,
      )
    }
    await client.query(`ALTER DATABASE ${database} OWNER TO ${user}`)
    await client.query(`REVOKE ALL ON DATABASE ${database} FROM PUBLIC`)
    await client.query('COMMIT')
    return created
  } catch (error) {
    await client.query('ROLLBACK')
    throw error
  }
}
