import { isIP } from 'node:net'
import { env, parseConfig } from '@zt/service-kit'
import { z } from 'zod'

// A trust domain is a lowercase DNS-like name: no scheme, port or path.
const trustDomain = z
  .string()
  .regex(/^[a-z0-9._-]+$/, 'must be a SPIFFE trust domain such as zt.local')

/** An IPv4/IPv6 address or CIDR block: what proxy-addr (Fastify's trustProxy) accepts. */
export function isAddressOrCidr(value: string): boolean {
  const [address = '', prefix, ...rest] = value.split('/')
  const version = isIP(address)
  if (version === 0 || rest.length > 0) return false
  if (prefix === undefined) return true
  const bits = Number(prefix)
  return /^\d{1,3}$/.test(prefix) && bits <= (version === 4 ? 32 : 128)
}

const schema = z
  .object({
    LOG_LEVEL: env.logLevel(),
    HOST: env.host(),
    PORT: env.port(8000),
    OPS_PORT: env.port(9000),
    DRAIN_DELAY_MS: env.milliseconds(0),
    SHUTDOWN_TIMEOUT_MS: env.milliseconds(25_000),
    TRUST_DOMAIN: trustDomain,
    SPIFFE_ENDPOINT_SOCKET: z.string().min(1).optional(),
    SPIFFE_SVID_DIR: z.string().min(1).optional(),
    URL_SERVICE_URL: z
      .url({ protocol: /^https$/ })
      .default('https://url-service.services.svc.cluster.local:8443'),
    URL_SERVICE_ID: z
      .string()
      .regex(/^spiffe:\/\/[a-z0-9._-]+(\/[A-Za-z0-9._-]+)+$/, 'must be a SPIFFE ID')
      .optional(),
    // No default: a wrong base URL would silently hand out broken links.
    PUBLIC_BASE_URL: env.url(),
    TRUSTED_PROXIES: env
      .list()
      .refine((entries) => entries.every(isAddressOrCidr), 'must be IP addresses or CIDR blocks'),
    RATE_LIMIT_MAX: env.positiveInt(100),
    RATE_LIMIT_WINDOW_MS: env.positiveInt(60_000),
    UPSTREAM_TIMEOUT_MS: env.positiveInt(2000),
  })
  .refine(
    (value) =>
      (value.SPIFFE_ENDPOINT_SOCKET === undefined) !== (value.SPIFFE_SVID_DIR === undefined),
    {
      message: 'set exactly one of SPIFFE_ENDPOINT_SOCKET or SPIFFE_SVID_DIR',
      path: ['SPIFFE_ENDPOINT_SOCKET'],
    },
  )
  .transform(({ URL_SERVICE_ID, PUBLIC_BASE_URL, ...rest }) => ({
    ...rest,
    URL_SERVICE_ID: URL_SERVICE_ID ?? `spiffe://${rest.TRUST_DOMAIN}/ns/services/sa/url-service`,
    // shortUrl is PUBLIC_BASE_URL + '/r/' + code: a trailing slash would double up.
    PUBLIC_BASE_URL: PUBLIC_BASE_URL.replace(/\/+$/, ''),
  }))

export type Config = z.output<typeof schema>

export function loadConfig(source: Record<string, string | undefined> = process.env): Config {
  return parseConfig(schema, source)
}
