import { z } from 'zod'

/** Thrown at start-up when the environment does not satisfy a service's schema. */
export class ConfigError extends Error {
  readonly issues: readonly string[]

  constructor(issues: readonly string[]) {
    super(`invalid configuration:\n  ${issues.join('\n  ')}`)
    this.name = 'ConfigError'
    this.issues = issues
  }
}

/**
 * Parses the environment once, at start-up, and reports every bad variable at
 * once. Messages name variables, never their values: a value may be a secret.
 */
export function parseConfig<S extends z.ZodType>(
  schema: S,
  env: Record<string, string | undefined> = process.env,
): z.output<S> {
  const result = schema.safeParse(env)
  if (!result.success) {
    throw new ConfigError(
      result.error.issues.map(
        (issue) => `${issue.path.join('.') || '(environment)'}: ${issue.message}`,
      ),
    )
  }
  return result.data
}

/**
 * `true` when schema S reads exactly the variables in Names (the service's
 * contract in @zt/contracts). Otherwise it names the variables only one side
 * has, so the check `true satisfies ReadsExactly<typeof schema, typeof names>`
 * fails to compile with them in the message.
 */
export type ReadsExactly<S extends z.ZodType, Names extends readonly string[]> = [
  Exclude<keyof z.input<S>, Names[number]> | Exclude<Names[number], keyof z.input<S>>,
] extends [never]
  ? true
  : {
      notInBoth: Exclude<keyof z.input<S>, Names[number]> | Exclude<Names[number], keyof z.input<S>>
    }

/** Small building blocks so every service spells its environment the same way. */
export const env = {
  port: (fallback: number) => z.coerce.number().int().min(0).max(65535).default(fallback),
  host: (fallback = '0.0.0.0') => z.string().min(1).default(fallback),
  logLevel: () =>
    z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  milliseconds: (fallback: number) => z.coerce.number().int().min(0).default(fallback),
  positiveInt: (fallback: number) => z.coerce.number().int().positive().default(fallback),
  boolean: (fallback: boolean) =>
    z
      .enum(['true', 'false', '1', '0'])
      .default(fallback ? 'true' : 'false')
      .transform((value) => value === 'true' || value === '1'),
  /** Comma-separated list; blanks dropped. */
  list: () =>
    z
      .string()
      .default('')
      .transform((value) =>
        value
          .split(',')
          .map((item) => item.trim())
          .filter((item) => item.length > 0),
      ),
  url: () => z.url({ protocol: /^https?$/ }),
} as const
