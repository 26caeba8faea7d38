import { isIP } from 'node:net'
import type { frontendEnvNames } from '@zt/contracts'
import { env, parseConfig, type ReadsExactly } from '@zt/service-kit'
import { z } from 'zod'

/** An IPv4/IPv6 address or CIDR block: what proxy-addr (Fastify's trustProxy) accepts. */
function isAddressOrCidr(value: string): boolean {
  const [address = '', prefix, ...rest] = value.split('/')
  const version = isIP(address)
  if (version === 0 || rest.length > 0) return false
  if (prefix === undefined) return true
  return /^\d{1,3}$/.test(prefix) && Number(prefix) <= (version === 4 ? 32 : 128)
}

const schema = z.object({
  LOG_LEVEL: env.logLevel(),
  HOST: env.host(),
  PORT: env.port(8080),
  OPS_PORT: env.port(9080),
  DRAIN_DELAY_MS: env.milliseconds(0),
  SHUTDOWN_TIMEOUT_MS: env.milliseconds(25_000),
  API_GATEWAY_URL: env.url().default('http://api-gateway.services.svc.cluster.local:8000'),
  // The ingress (or load balancer) in front of the frontend, whose
  // X-Forwarded-For names the browser. Default none: the peer is the client.
  TRUSTED_PROXIES: env
    .list()
    .refine((entries) => entries.every(isAddressOrCidr), 'must be IP addresses or CIDR blocks'),
})

// The contract in @zt/contracts names exactly the variables read here.
true satisfies ReadsExactly<typeof schema, typeof frontendEnvNames>

export type Config = z.output<typeof schema>

export function loadConfig(source: Record<string, string | undefined> = process.env): Config {
  return parseConfig(schema, source)
}
