import { z } from 'zod'

/** What one physical connection needs to log in, as discrete fields. */
export interface DbCredentials {
  readonly user: string
  readonly password: string
  readonly host: string
  readonly port: number
  readonly database: string
}

/** Where credentials come from. Only `kind` may be logged. */
export interface CredentialSource {
  readonly kind: 'secrets-manager' | 'database-url'
  /** The current credentials, from cache while fresh. */
  get(): Promise<DbCredentials>
  /** Fetches anew, e.g. after the database rejected the password (28P01). */
  refresh(): Promise<DbCredentials>
}

/** Connection fields the configuration supplies when the secret does not. */
export interface SecretDefaults {
  host?: string | undefined
  port: number
  database?: string | undefined
}

/** A malformed secret. The message names fields, never their contents. */
export class SecretFormatError extends Error {
  constructor(secretId: string, problem: string) {
    super(`database secret ${secretId} is malformed: ${problem}`)
    this.name = 'SecretFormatError'
  }
}

// Both shapes Secrets Manager uses for database secrets: the rotation
// template {engine, host, username, password, dbname, port} and the
// RDS-managed master secret {username, password}. Port may be "5432".
const secretShape = z.object({
  username: z.string().min(1),
  password: z.string().min(1),
  host: z.string().min(1).optional(),
  port: z
    .union([
      z.number(),
      z
        .string()
        .regex(/^\d{1,5}$/)
        .transform(Number),
    ])
    .pipe(z.number().int().min(1).max(65535))
    .optional(),
  dbname: z.string().min(1).optional(),
  engine: z.string().optional(),
})

/**
 * Turns a SecretString into credentials. The secret's own host, port and
 * dbname win (the rotation template keeps them current); configuration fills
 * what an RDS-managed secret lacks.
 */
export function parseDbSecret(
  secretId: string,
  secretString: string,
  defaults: SecretDefaults,
): DbCredentials {
  let json: unknown
  try {
    json = JSON.parse(secretString)
  } catch {
    // JSON.parse quotes the offending text in its message: never pass it on.
    throw new SecretFormatError(secretId, 'SecretString is not JSON')
  }
  const result = secretShape.safeParse(json)
  if (!result.success) {
    const fields = [
      ...new Set(result.error.issues.map((issue) => issue.path.join('.') || '(root)')),
    ]
    throw new SecretFormatError(secretId, `missing or invalid field(s): ${fields.join(', ')}`)
  }
  const secret = result.data
  const host = secret.host ?? defaults.host
  const database = secret.dbname ?? defaults.database
  if (!host) throw new SecretFormatError(secretId, 'no host in the secret; set DB_HOST')
  if (!database) throw new SecretFormatError(secretId, 'no dbname in the secret; set DB_NAME')
  return {
    user: secret.username,
    password: secret.password,
    host,
    port: secret.port ?? defaults.port,
    database,
  }
}

export interface SecretsManagerSourceOptions {
  secretId: string
  /** Returns the SecretString; see createSecretFetcher. */
  fetchSecret: (secretId: string) => Promise<string>
  ttlMs: number
  defaults: SecretDefaults
  /** Told when a refresh failed and the last good value is served instead. */
  onStale?: (error: unknown) => void
  now?: () => number
}

/**
 * Secrets Manager credentials cached for a TTL. Concurrent callers share one
 * in-flight fetch, so the secret is fetched at most once per TTL however many
 * connections open, plus once per forced refresh.
 */
export function secretsManagerSource(options: SecretsManagerSourceOptions): CredentialSource {
  const now = options.now ?? Date.now
  let cached: { value: DbCredentials; fetchedAt: number } | undefined
  let inflight: Promise<DbCredentials> | undefined

  const fetchOnce = (): Promise<DbCredentials> => {
    inflight ??= (async () => {
      try {
        const raw = await options.fetchSecret(options.secretId)
        const value = parseDbSecret(options.secretId, raw, options.defaults)
        cached = { value, fetchedAt: now() }
        return value
      } finally {
        inflight = undefined
      }
    })()
    return inflight
  }

  return {
    kind: 'secrets-manager',
    async get() {
      if (cached && now() - cached.fetchedAt < options.ttlMs) return cached.value
      try {
        return await fetchOnce()
      } catch (error) {
        // A Secrets Manager hiccup must not stop new connections while the
        // last known password may still be valid; a 28P01 forces a refresh.
        if (!cached || error instanceof SecretFormatError) throw error
        options.onStale?.(error)
        return cached.value
      }
    },
    refresh: fetchOnce,
  }
}

/** Credentials from DATABASE_URL (local runs): decoded into discrete fields once. */
export function databaseUrlSource(databaseUrl: string): CredentialSource {
  const url = new URL(databaseUrl)
  const value: DbCredentials = {
    user: decodeURIComponent(url.username),
    password: decodeURIComponent(url.password),
    host: url.hostname.replace(/^\[(.*)\]$/, '$1'),
    port: url.port === '' ? 5432 : Number(url.port),
    database: decodeURIComponent(url.pathname.replace(/^\//, '')) || 'postgres',
  }
  return { kind: 'database-url', get: async () => value, refresh: async () => value }
}
