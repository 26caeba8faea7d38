import { env, parseConfig } from '@zt/service-kit'
import { z } from 'zod'

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
  TRUSTED_PROXIES: env.list(),
})

export type Config = z.output<typeof schema>

export function loadConfig(source: Record<string, string | undefined> = process.env): Config {
  return parseConfig(schema, source)
}
