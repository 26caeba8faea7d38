import Fastify, { type FastifyInstance } from 'fastify'
import type { Registry } from 'prom-client'
import { fastifyBaseOptions } from './logger.js'
import { installHttpMetrics } from './metrics.js'
import { installProblemHandlers } from './problem.js'
import { installTraceResponse } from './trace-context.js'

export interface PublicAppOptions {
  service: string
  logLevel: string
  /** Peers whose X-Forwarded-For is believed (an ingress, the frontend). */
  trustedProxies: readonly string[]
  bodyLimit: number
  registry: Registry
}

/**
 * The Fastify instance every service that answers the public starts from:
 * the shared options, problem+json for every error, HTTP metrics, and a
 * traceresponse on each traced answer.
 */
export function createPublicApp(options: PublicAppOptions): FastifyInstance {
  const app = Fastify({
    ...fastifyBaseOptions(options.service, options.logLevel, {
      trustedProxies: options.trustedProxies,
    }),
    bodyLimit: options.bodyLimit,
  })
  installProblemHandlers(app)
  installHttpMetrics(app, options.registry)
  installTraceResponse(app)
  return app
}
