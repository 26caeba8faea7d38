import { isIP } from 'node:net'
import type { apiGatewayEnvNames } from '@zt/contracts'
import { env, parseConfig, type ReadsExactly } from '@zt/service-kit'
import { spiffeEnv, spiffeIdSetting } from '@zt/spiffe'
import { z } from 'zod'

/** An IPv4/IPv6 address or CIDR block: what proxy-addr (Fastify's trustProxy) accepts. */
export function isAddressOrCidr(value: string): boolean {
  const [address = '', prefix, ...rest] = value.split('/')
  const version = isIP(address)
  if (version === 0 || rest.length > 0) return false
  if (prefix === undefined) return true
  const bits = Number(prefix)
  return /^\d{1,3}$/.test(prefix) && bits <= (version === 4 ? 32 : 128)
}

const own = z.object({
  LOG_LEVEL: env.logLevel(),
  HOST: env.host(),
  PORT: env.port(8000),
  OPS_PORT: env.port(9000),
  DRAIN_DELAY_MS: env.milliseconds(0),
  SHUTDOWN_TIMEOUT_MS: env.milliseconds(25_000),
  URL_SERVICE_URL: z
    .url({ protocol: /^https$/ })
    .default('https://url-service.services.svc.cluster.local:8443'),
  URL_SERVICE_ID: spiffeIdSetting.optional(),
  // No default: a wrong base URL would silently hand out broken links.
  PUBLIC_BASE_URL: env.url(),
  TRUSTED_PROXIES: env
    .list()
    .refine((entries) => entries.every(isAddressOrCidr), 'must be IP addresses or CIDR blocks'),
  RATE_LIMIT_MAX: env.positiveInt(100),
  RATE_LIMIT_WINDOW_MS: env.positiveInt(60_000),
  UPSTREAM_TIMEOUT_MS: env.positiveInt(2000),
})

const schema = z
  .intersection(own, spiffeEnv)
  .transform(({ URL_SERVICE_ID, PUBLIC_BASE_URL, ...rest }) => ({
    ...rest,
    URL_SERVICE_ID: URL_SERVICE_ID ?? rest.TRUST_DOMAIN.id('/ns/services/sa/url-service'),
    // shortUrl is PUBLIC_BASE_URL + '/r/' + code: a trailing slash would double up.
    PUBLIC_BASE_URL: PUBLIC_BASE_URL.replace(/\/+$/, ''),
  }))

// The contract in @zt/contracts names exactly the variables read here.
true satisfies ReadsExactly<typeof schema, typeof apiGatewayEnvNames>

export type Config = z.output<typeof schema>

export function loadConfig(source: Record<string, string | undefined> = process.env): Config {
  return parseConfig(schema, source)
}
