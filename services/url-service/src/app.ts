import type { ServerOptions } from 'node:https'
import { generatedCodeLength } from '@zt/contracts'
import { fastifyBaseOptions, installHttpMetrics, installProblemHandlers } from '@zt/service-kit'
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify'
import { validatorCompiler } from 'fastify-type-provider-zod'
import type { Logger } from 'pino'
import type { Registry } from 'prom-client'
import type { Database } from './db/database.js'
import { urlRoutes } from './routes/urls.js'
import { UrlStore } from './store.js'
import { ignoreVisits, type VisitRecorder } from './visits.js'

export const serviceName = 'url-service'

export interface AppDeps {
  db: Database
  logger: Logger
  /** HTTP metrics of the main listener go here when given. */
  registry?: Registry
  /** Where resolved visits go; the events pipeline plugs in here. */
  visits?: VisitRecorder
  /** TLS (and mTLS) options for the main listener; plain HTTP when absent. */
  https?: ServerOptions
}

/**
 * The main listener's Fastify instance. Transport (TLS, client certificates)
 * is decided here only; routes never look at it.
 */
export function buildApp(deps: AppDeps): FastifyInstance {
  const { logger: _levelOnly, ...base } = fastifyBaseOptions(serviceName, deps.logger.level)
  // Typed as the base logger so the instance is the plain FastifyInstance
  // every service-kit helper takes.
  const logger: FastifyBaseLogger = deps.logger
  const app = Fastify({
    ...base,
    loggerInstance: logger,
    ...(deps.https ? { https: deps.https } : {}),
  })
  app.setValidatorCompiler(validatorCompiler)
  installProblemHandlers(app)
  if (deps.registry) installHttpMetrics(app, deps.registry)
  app.register(urlRoutes, {
    store: new UrlStore(deps.db, generatedCodeLength),
    visits: deps.visits ?? ignoreVisits,
  })
  return app
}
