import Fastify, { type FastifyInstance } from 'fastify'
import type { Registry } from 'prom-client'
import { fastifyBaseOptions } from './logger.js'
import { installHttpMetrics } from './metrics.js'
import { HttpProblem, installProblemHandlers } from './problem.js'
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
 * the shared options, no HTTP/0.9, problem+json for every error, HTTP
 * metrics, and a traceresponse on each traced answer.
 */
export function createPublicApp(options: PublicAppOptions): FastifyInstance {
  const app = Fastify({
    ...fastifyBaseOptions(options.service, options.logLevel, {
      trustedProxies: options.trustedProxies,
    }),
    bodyLimit: options.bodyLimit,
  })
  installProblemHandlers(app)
  refuseHttp09(app)
  installHttpMetrics(app, options.registry)
  installTraceResponse(app)
  return app
}

/**
 * Node's parser reads a request line that ends before its HTTP version as
 * HTTP/0.9 and parses the lines after it as headers: a CR LF smuggled into
 * the target (`GET /r/x\r\nX-Injected: 1 HTTP/1.1`) arrives as a header.
 * No client of ours speaks HTTP/0.9, so such a request is refused before
 * any route sees it. Register it before the other onRequest hooks.
 */
export function refuseHttp09(app: FastifyInstance): void {
  app.addHook('onRequest', (request, _reply, done) => {
    if (request.raw.httpVersionMajor >= 1) return done()
    done(new HttpProblem(400, `HTTP/${request.raw.httpVersion} is not supported`))
  })
}
