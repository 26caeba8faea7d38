import type { urlServiceEnvNames, urlServiceServerEnvNames } from '@zt/contracts'
import { env, parseConfig, type ReadsExactly } from '@zt/service-kit'
import { spiffeEnv, spiffeIdSetting } from '@zt/spiffe'
import { z } from 'zod'

const optionalText = z
  .string()
  .trim()
  .transform((value) => (value === '' ? undefined : value))
  .optional()

const schema = z
  .object({
    LOG_LEVEL: env.logLevel(),
    HOST: env.host(),
    PORT: env.port(8443),
    OPS_PORT: env.port(9443),
    DRAIN_DELAY_MS: env.milliseconds(0),
    SHUTDOWN_TIMEOUT_MS: env.milliseconds(25000),
    DB_SECRET_ARN: optionalText,
    DATABASE_URL: optionalText,
    DB_HOST: optionalText,
    DB_PORT: env.port(5432),
    DB_NAME: optionalText,
    DB_SSL_MODE: z.enum(['verify-full', 'disable']).default('verify-full'),
    DB_SSL_CA_FILE: optionalText,
    DB_SECRET_TTL_SECONDS: env.positiveInt(300),
    DB_POOL_MAX: env.positiveInt(10),
    DB_POOL_MAX_LIFETIME_SECONDS: env.positiveInt(1800),
    AWS_REGION: optionalText,
  })
  .superRefine((value, ctx) => {
    if (value.DB_SECRET_ARN && value.DATABASE_URL) {
      ctx.addIssue({
        code: 'custom',
        path: ['DATABASE_URL'],
        message: 'set either DB_SECRET_ARN (production) or DATABASE_URL (local runs), not both',
      })
    }
    if (!value.DB_SECRET_ARN && !value.DATABASE_URL) {
      ctx.addIssue({
        code: 'custom',
        path: ['DB_SECRET_ARN'],
        message: 'set DB_SECRET_ARN (production) or DATABASE_URL (local runs only)',
      })
    }
    if (value.DB_SECRET_ARN && !value.AWS_REGION) {
      ctx.addIssue({
        code: 'custom',
        path: ['AWS_REGION'],
        message: 'is required with DB_SECRET_ARN',
      })
    }
    if (value.DATABASE_URL) {
      let url: URL | undefined
      try {
        url = new URL(value.DATABASE_URL)
      } catch {
        // The value may hold a password: say what is wrong, never echo it.
      }
      if (!url || !/^postgres(ql)?:$/.test(url.protocol) || url.hostname === '') {
        ctx.addIssue({
          code: 'custom',
          path: ['DATABASE_URL'],
          message: 'must be postgres://user:password@host:port/database',
        })
      } else if (url.search !== '') {
        // node-postgres lets URL parameters such as sslmode override the ssl
        // object (node-postgres #2380); TLS is configured by DB_SSL_MODE only.
        ctx.addIssue({
          code: 'custom',
          path: ['DATABASE_URL'],
          message: 'must not carry parameters; use DB_SSL_MODE and DB_SSL_CA_FILE for TLS',
        })
      }
    }
  })

// The contract in @zt/contracts names exactly the variables read here.
true satisfies ReadsExactly<typeof schema, typeof urlServiceEnvNames>

export type Config = z.output<typeof schema>

/** Reads the url-service environment once; throws ConfigError naming every bad variable. */
export function loadConfig(source: Record<string, string | undefined> = process.env): Config {
  return parseConfig(schema, source)
}

/**
 * The API server adds its SPIFFE identity and its callers to Config. migrate
 * and the worker have no SPIFFE identity, so they keep using loadConfig.
 */
const serverSchema = z
  .intersection(
    schema.safeExtend({
      AUTHORIZED_CALLERS: env.list().pipe(z.array(spiffeIdSetting)),
      // Where clicks and creations are published. Without it they wait in the
      // outbox (start-up logs a warning): tests of other concerns need no SQS.
      EVENTS_QUEUE_URL: env.url().optional(),
    }),
    spiffeEnv,
  )
  .superRefine((value, ctx) => {
    value.AUTHORIZED_CALLERS.forEach((caller, index) => {
      // Connections are admitted from our own trust domain only, so a caller
      // from another one could never get through: say so at start-up.
      if (!caller.memberOf(value.TRUST_DOMAIN)) {
        ctx.addIssue({
          code: 'custom',
          path: ['AUTHORIZED_CALLERS', index],
          message: `must be a SPIFFE ID in trust domain ${value.TRUST_DOMAIN.name}`,
        })
      }
    })
  })
  .transform(({ AUTHORIZED_CALLERS, ...rest }) => ({
    ...rest,
    AUTHORIZED_CALLERS:
      AUTHORIZED_CALLERS.length > 0
        ? AUTHORIZED_CALLERS
        : [rest.TRUST_DOMAIN.id('/ns/services/sa/api-gateway')],
  }))

true satisfies ReadsExactly<typeof serverSchema, typeof urlServiceServerEnvNames>

export type ServerConfig = z.output<typeof serverSchema>

/** The API server's environment (Config plus SPIFFE), read once; throws ConfigError naming every bad variable. */
export function loadServerConfig(
  source: Record<string, string | undefined> = process.env,
): ServerConfig {
  return parseConfig(serverSchema, source)
}
