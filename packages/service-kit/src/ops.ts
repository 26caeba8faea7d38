import Fastify, { type FastifyInstance } from 'fastify'
import type { Registry } from 'prom-client'
import { fastifyBaseOptions } from './logger.js'
import { installProblemHandlers, problemContentType } from './problem.js'

/** A readiness check throws (or rejects) when its dependency is not usable. */
export type ReadinessCheck = () => Promise<void> | void

export interface OpsServer {
  readonly app: FastifyInstance
  /** From now on /readyz answers 503, so load balancers stop sending traffic. */
  startDraining(): void
}

export interface OpsOptions {
  service: string
  logLevel: string
  registry: Registry
  checks: Record<string, ReadinessCheck>
  /** How long one check may take before it counts as failed. */
  checkTimeoutMs?: number
}

async function runCheck(check: ReadinessCheck, timeoutMs: number): Promise<string> {
  let timer: NodeJS.Timeout | undefined
  try {
    await Promise.race([
      Promise.resolve().then(check),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`timed out after ${timeoutMs} ms`)), timeoutMs)
      }),
    ])
    return 'ok'
  } catch (error) {
    return error instanceof Error ? error.message : 'failed'
  } finally {
    clearTimeout(timer)
  }
}

/**
 * The plain-HTTP ops listener: liveness, readiness and metrics live apart
 * from the main port so kubelet and Prometheus need no client certificate.
 */
export function buildOpsServer(options: OpsOptions): OpsServer {
  const timeoutMs = options.checkTimeoutMs ?? 1000
  let draining = false
  const app = Fastify(
    fastifyBaseOptions(options.service, options.logLevel, { requestLogging: false }),
  )
  installProblemHandlers(app)

  app.get('/healthz', async () => ({ status: 'ok' }))

  app.get('/readyz', async (_request, reply) => {
    const names = Object.keys(options.checks)
    const results = await Promise.all(
      names.map((name) => runCheck(options.checks[name] as ReadinessCheck, timeoutMs)),
    )
    const checks = Object.fromEntries(names.map((name, i) => [name, results[i]]))
    const failed = names.filter((_, i) => results[i] !== 'ok')
    if (draining) failed.unshift('shutting down')
    if (failed.length === 0) return { status: 'ok', checks }
    return reply
      .code(503)
      .type(problemContentType)
      .send({
        type: 'about:blank',
        title: 'Service Unavailable',
        status: 503,
        detail: `not ready: ${failed.join(', ')}`,
        checks,
      })
  })

  app.get('/metrics', async (_request, reply) => {
    reply.type(options.registry.contentType)
    return options.registry.metrics()
  })

  return {
    app,
    startDraining() {
      draining = true
    },
  }
}
