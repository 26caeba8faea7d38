import type { Server as HttpsServer } from 'node:https'
import { generatedCodeLength } from '@zt/contracts'
import {
  fastifyBaseOptions,
  installHttpMetrics,
  installJsonBodyParser,
  installProblemHandlers,
  recordSpiffeIds,
  refuseHttp09,
} from '@zt/service-kit'
import { authorizeMemberOf, createMtlsServerOptions, installSpiffe } from '@zt/spiffe'
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify'
import { validatorCompiler } from 'fastify-type-provider-zod'
import type { Logger } from 'pino'
import type { Registry } from 'prom-client'
import type { Database } from './db/database.js'
import { callersFor, type MtlsDeps } from './mtls.js'
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
  /**
   * SPIFFE mutual TLS for the main listener, as startUrlService always sets it:
   * only callers with a valid SVID of our trust domain connect, and each
   * route admits only the callers it declares. Absent in `inject` tests.
   */
  mtls?: MtlsDeps
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
    ...(deps.mtls ? { https: createMtlsServerOptions(deps.mtls.source) } : {}),
  })
  app.setValidatorCompiler(validatorCompiler)
  installProblemHandlers(app)
  // Only a caller with an SVID gets this far, and it still cannot smuggle a
  // header past the parser.
  refuseHttp09(app)
  // A body that is not UTF-8 is refused, not decoded with U+FFFD in the gaps.
  installJsonBodyParser(app)
  if (deps.registry) installHttpMetrics(app, deps.registry)
  const callers = callersFor(deps.mtls?.authorizedCallers ?? [])
  if (deps.mtls) {
    // Before any route, so none is ever served without the check. The cast
    // only restates what `https` above made true at run time.
    installSpiffe(app as unknown as FastifyInstance<HttpsServer>, {
      source: deps.mtls.source,
      authorizer: callers.gateway,
      connectionAuthorizer: authorizeMemberOf(deps.mtls.trustDomain),
    })
    const { source } = deps.mtls
    app.addHook('onRequest', async (request) => {
      recordSpiffeIds(request, {
        local: source.svid().id.toString(),
        peer: request.spiffeId.toString(),
      })
    })
  }
  app.register(urlRoutes, {
    store: new UrlStore(deps.db, generatedCodeLength),
    visits: deps.visits ?? ignoreVisits,
    callers,
  })
  return app
}
