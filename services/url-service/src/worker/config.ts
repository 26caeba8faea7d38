import { ConfigError, env, parseConfig } from '@zt/service-kit'
import { z } from 'zod'
import { type Config, loadConfig } from '../config.js'

/**
 * How long a received batch stays invisible to other workers, unless renewed.
 * The one default for the worker, and the value every events queue is
 * created with (infra/src/data.ts, packages/devkit/src/sqs.ts,
 * compose/localstack/init-aws.sh). The worker renews it every half timeout
 * while a batch runs; 60 s leaves that renewal the worker's whole SQS request
 * timeout (the 20 s long poll + 10 s) to land before the messages reappear.
 * It is also how long a crashed worker's batch waits before redelivery.
 */
export const defaultVisibilityTimeoutSeconds = 60

const schema = z.object({
  OPS_PORT: env.port(9444),
  EVENTS_QUEUE_URL: env.url(),
  EVENTS_WAIT_TIME_SECONDS: z.coerce.number().int().min(0).max(20).default(20),
  EVENTS_VISIBILITY_TIMEOUT_SECONDS: z.coerce
    .number()
    .int()
    .min(2)
    .max(43200)
    .default(defaultVisibilityTimeoutSeconds),
  EVENTS_DEDUP_RETENTION_HOURS: env.positiveInt(14 * 24),
})

/** The url-service settings the worker shares (DB_*, AWS_REGION, LOG_LEVEL, ...) plus its own. */
export type WorkerConfig = Config & z.output<typeof schema>

/** Reads the worker's environment once; reports every bad variable of both schemas together. */
export function loadWorkerConfig(
  source: Record<string, string | undefined> = process.env,
): WorkerConfig {
  const issues: string[] = []
  const attempt = <T>(parse: () => T): T | undefined => {
    try {
      return parse()
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error
      issues.push(...error.issues)
      return undefined
    }
  }
  const shared = attempt(() => loadConfig(source))
  const own = attempt(() => parseConfig(schema, source))
  if (!shared || !own) throw new ConfigError(issues)
  return { ...shared, ...own }
}
