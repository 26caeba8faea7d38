/**
 * docker-compose.yml's `environment:` for each of our services passes through
 * that service's real loadConfig, and names only variables of the service's
 * contract (@zt/contracts' names, through e2e/src/contract.ts): a renamed or
 * mistyped variable in compose fails here, without docker-compose installed,
 * instead of at `docker compose up`.
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { loadConfig as loadGatewayConfig } from '@zt/api-gateway/testing'
import { loadConfig as loadFrontendConfig } from '@zt/frontend'
import { ConfigError } from '@zt/service-kit'
import {
  loadConfig as loadMigrateConfig,
  loadServerConfig,
  loadWorkerConfig,
} from '@zt/url-service/testing'
import t from 'tap'
import { parse } from 'yaml'
import { CONTRACT } from '../src/contract.js'

type Env = Record<string, string>

/** The loader each compose service's process runs at start-up. */
const loaders: Record<string, (env: Env) => unknown> = {
  migrate: loadMigrateConfig,
  'url-service': loadServerConfig,
  worker: loadWorkerConfig,
  'api-gateway': loadGatewayConfig,
  frontend: loadFrontendConfig,
}

const composeFile = join(import.meta.dirname, '..', '..', 'docker-compose.yml')
const compose: { services: Record<string, { environment?: Record<string, unknown> }> } = parse(
  readFileSync(composeFile, 'utf8'),
  { merge: true },
)

/** Compose hands every value over as a string. */
function environmentOf(service: string): Env {
  const environment = compose.services[service]?.environment ?? {}
  return Object.fromEntries(Object.entries(environment).map(([k, v]) => [k, String(v)]))
}

/** What is wrong with `env` for `service`: unknown names, then what loadConfig refuses. */
function problems(service: string, env: Env): string[] {
  const load = loaders[service]
  const contract = CONTRACT[service]
  if (!load || !contract) throw new Error(`no loader or contract for ${service}`)
  const known = new Set([...contract.required, ...contract.optional])
  const found = Object.keys(env)
    .filter((name) => !known.has(name))
    .map((name) => `${name}: not a variable ${service} reads`)
  try {
    // SPIFFE_SVID_DIR names a mounted volume; loadConfig checks settings, not files.
    load(env)
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error
    found.push(...error.issues)
  }
  return found
}

t.test("each service's compose environment is one its loadConfig accepts", async (t) => {
  for (const service of Object.keys(loaders)) {
    t.ok(compose.services[service], `compose runs ${service}`)
    t.same(problems(service, environmentOf(service)), [], service)
  }
})

t.test('a renamed variable in compose fails the check', async (t) => {
  const { OPS_PORT, ...rest } = environmentOf('api-gateway')
  t.same(problems('api-gateway', { ...rest, OPS_PROT: OPS_PORT ?? '' }), [
    'OPS_PROT: not a variable api-gateway reads',
  ])
})

t.test('a required variable missing or a bad value in compose fails the check', async (t) => {
  const { PUBLIC_BASE_URL: _, ...withoutBase } = environmentOf('api-gateway')
  t.match(problems('api-gateway', withoutBase), [/^PUBLIC_BASE_URL: /])
  t.match(problems('url-service', { ...environmentOf('url-service'), PORT: 'eighty' }), [/^PORT: /])
  t.match(problems('worker', { ...environmentOf('worker'), EVENTS_QUEUE_URL: '' }), [
    /^EVENTS_QUEUE_URL: /,
  ])
})
