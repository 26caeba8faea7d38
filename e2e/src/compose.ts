import { spawnSync } from 'node:child_process'
import { parse } from 'yaml'
import { AWS_SDK, CONTRACT } from './contract.js'

/** The part of a resolved compose service the checks read. */
interface Service {
  image?: string
  build?: unknown
  user?: string
  read_only?: boolean
  privileged?: boolean
  cap_drop?: string[]
  cap_add?: string[]
  security_opt?: string[]
  tmpfs?: string[] | string
  network_mode?: string
  ports?: (string | { host_ip?: string; published?: number | string; target?: number })[]
  environment?: Record<string, string | number | null>
  volumes?: (string | { source?: string; target?: string; read_only?: boolean })[]
  healthcheck?: { test?: string[] | string; disable?: boolean }
  depends_on?: Record<string, { condition?: string }> | string[]
  restart?: string
}

export interface ComposeConfig {
  services: Record<string, Service>
}

export interface ComposeResult {
  ok: boolean
  /** The fully resolved file (anchors merged, defaults filled), when ok. */
  config: ComposeConfig | undefined
  output: string
}

export const COMPOSE_MISSING =
  'docker-compose is not installed: run `apt-get install docker-compose` (Debian; CI installs it in .ci/run)'

/**
 * Runs `docker-compose -f <file> config`: the same validation `config -q`
 * does, and the resolved file for the checks below. Throws when the binary
 * is missing, so a machine without it fails instead of skipping.
 */
export function composeConfig(file: string, binary = 'docker-compose'): ComposeResult {
  const run = spawnSync(binary, ['-f', file, 'config'], { encoding: 'utf8', timeout: 30_000 })
  if (run.error) {
    if ((run.error as NodeJS.ErrnoException).code === 'ENOENT') throw new Error(COMPOSE_MISSING)
    throw run.error
  }
  const output = `${run.stdout}${run.stderr}`
  if (run.status !== 0) return { ok: false, config: undefined, output }
  return { ok: true, config: parse(run.stdout) as ComposeConfig, output }
}

const DIGEST = /@sha256:[0-9a-f]{64}$/
const NUMERIC_NON_ROOT = /^[1-9]\d*:[1-9]\d*$/
const ALLOWED_CONDITIONS = new Set(['service_healthy', 'service_completed_successfully'])

function hostIp(port: NonNullable<Service['ports']>[number]): string | undefined {
  if (typeof port !== 'string') return port.host_ip
  // host_ip:published:target[/proto]; IPv6 host addresses come in brackets.
  const parts = port.replace(/\/\w+$/, '').split(':')
  return parts.length === 3 ? parts[0] : undefined
}

function mounts(service: Service): { source: string; target: string; readOnly: boolean }[] {
  return (service.volumes ?? []).map((v) => {
    if (typeof v !== 'string')
      return { source: v.source ?? '', target: v.target ?? '', readOnly: v.read_only === true }
    const [source = '', target = '', mode = 'rw'] = v.split(':')
    return { source, target, readOnly: mode.split(',').includes('ro') }
  })
}

function healthcheckText(service: Service): string {
  const test = service.healthcheck?.test
  return Array.isArray(test) ? test.join(' ') : (test ?? '')
}

/**
 * Returns every way the resolved compose file breaks the container rules
 * (empty when none): images pinned, only the frontend published and only on
 * loopback, every built service hardened and on the configuration contract,
 * startup ordered by health rather than by start.
 */
export function checkCompose(config: ComposeConfig): string[] {
  const problems: string[] = []
  const services = config.services ?? {}
  for (const [name, service] of Object.entries(services)) {
    const built = service.build !== undefined
    if (!built && !DIGEST.test(service.image ?? '')) {
      problems.push(`${name}: image ${service.image ?? '(none)'} is not pinned by digest`)
    }
    if (service.network_mode === 'host')
      problems.push(`${name}: network_mode host bypasses the network split`)
    if (service.privileged) problems.push(`${name}: privileged`)

    for (const port of service.ports ?? []) {
      if (name !== 'frontend') problems.push(`${name}: publishes a port; only the frontend may`)
      else if (hostIp(port) !== '127.0.0.1') {
        problems.push(`${name}: port ${JSON.stringify(port)} is not bound to 127.0.0.1`)
      }
    }

    // podman's Docker API (4.x) joins a CMD healthcheck and splits it again on
    // whitespace (containers/podman#26519): an argument with a space breaks.
    const test = service.healthcheck?.test
    if (Array.isArray(test) && test[0] === 'CMD') {
      for (const arg of test.slice(1)) {
        if (/\s/.test(arg)) {
          problems.push(
            `${name}: healthcheck argument "${arg.slice(0, 40)}…" contains whitespace, which podman's Docker API splits`,
          )
        }
      }
    }

    // The short list form means "started", which is what these checks reject.
    const dependsOn = service.depends_on ?? {}
    const conditions: [string, string | undefined][] = Array.isArray(dependsOn)
      ? dependsOn.map((dep) => [dep, undefined])
      : Object.entries(dependsOn).map(([dep, spec]) => [dep, spec.condition])
    for (const [dep, declared] of conditions) {
      const condition = declared ?? 'service_started'
      if (!ALLOWED_CONDITIONS.has(condition)) {
        problems.push(`${name}: depends_on ${dep} with ${condition}; wait for service_healthy`)
      } else if (condition === 'service_healthy' && !services[dep]?.healthcheck?.test) {
        problems.push(`${name}: depends_on ${dep} being healthy, but ${dep} has no healthcheck`)
      }
    }

    if (!built) continue
    if (service.user === undefined || !NUMERIC_NON_ROOT.test(String(service.user))) {
      problems.push(`${name}: user ${service.user ?? '(unset)'} is not a numeric non-root uid:gid`)
    }
    if (service.read_only !== true) problems.push(`${name}: root filesystem is not read_only`)
    if (!service.cap_drop?.includes('ALL')) problems.push(`${name}: does not cap_drop ALL`)
    if ((service.cap_add ?? []).length > 0)
      problems.push(`${name}: adds capabilities ${service.cap_add?.join(',')}`)
    if (!service.security_opt?.includes('no-new-privileges:true')) {
      problems.push(`${name}: missing security_opt no-new-privileges:true`)
    }
    const tmpfs = typeof service.tmpfs === 'string' ? [service.tmpfs] : (service.tmpfs ?? [])
    if (!tmpfs.some((t) => t.split(':')[0] === '/tmp')) problems.push(`${name}: no tmpfs on /tmp`)

    problems.push(...checkEnvironment(name, service))
  }
  return problems
}

function checkEnvironment(name: string, service: Service): string[] {
  const contract = CONTRACT[name]
  if (!contract) return [`${name}: built service with no entry in the configuration contract`]
  const problems: string[] = []
  const env = service.environment ?? {}
  const set = new Set(Object.keys(env))
  const allowed = new Set([...contract.required, ...contract.optional])
  for (const key of set) {
    if (!allowed.has(key)) problems.push(`${name}: ${key} is not in its configuration contract`)
  }
  for (const key of contract.required) {
    if (!set.has(key)) problems.push(`${name}: ${key} is required and not set`)
  }
  for (const group of contract.exactlyOne) {
    const present = group.filter((k) => set.has(k))
    if (present.length !== 1)
      problems.push(`${name}: set exactly one of ${group.join(', ')} (found ${present.length})`)
  }
  const value = (key: string): string | undefined =>
    env[key] === undefined ? undefined : String(env[key] ?? '')

  // Compose runs the production path: credentials from Secrets Manager.
  if (set.has('DATABASE_URL'))
    problems.push(`${name}: DATABASE_URL bypasses Secrets Manager; use DB_SECRET_ARN`)
  const sslMode = value('DB_SSL_MODE')
  if (sslMode !== undefined && sslMode !== 'disable' && sslMode !== 'verify-full') {
    problems.push(`${name}: DB_SSL_MODE ${sslMode} is neither verify-full nor disable`)
  }
  // Static keys are LocalStack dummies only: with them set, every AWS API the
  // process calls must be redirected to LocalStack.
  if (set.has('AWS_ACCESS_KEY_ID') || set.has('AWS_SECRET_ACCESS_KEY')) {
    for (const key of AWS_SDK.filter((k) => k.startsWith('AWS_ENDPOINT_URL_'))) {
      const url = value(key)
      if (url === undefined || new URL(url).hostname !== 'localstack') {
        problems.push(`${name}: static AWS keys are set but ${key} does not point at localstack`)
      }
    }
  }
  const upstream = value('URL_SERVICE_URL')
  if (upstream !== undefined && !upstream.startsWith('https://')) {
    problems.push(
      `${name}: URL_SERVICE_URL ${upstream} is not https (url-service accepts only mTLS)`,
    )
  }
  const svidDir = value('SPIFFE_SVID_DIR')
  if (svidDir !== undefined) {
    const mount = mounts(service).find(
      (m) => svidDir === m.target || svidDir.startsWith(`${m.target}/`),
    )
    if (!mount) problems.push(`${name}: SPIFFE_SVID_DIR ${svidDir} is not on a mounted volume`)
    else {
      if (!mount.readOnly)
        problems.push(`${name}: the SVID volume is writable; consumers mount it read-only`)
      // A wider mount would show the workload other SVIDs and the CA key.
      if (mount.target !== svidDir)
        problems.push(`${name}: mounts ${mount.target}, more than its own SVID directory`)
    }
  }
  if (contract.opsPort !== undefined) {
    if (value('OPS_PORT') !== contract.opsPort) {
      problems.push(
        `${name}: OPS_PORT ${value('OPS_PORT') ?? '(unset)'} is not the contract's ${contract.opsPort}`,
      )
    }
    if (!healthcheckText(service).includes(`127.0.0.1:${contract.opsPort}/`)) {
      problems.push(`${name}: healthcheck does not probe the ops port ${contract.opsPort}`)
    }
  }
  return problems
}
