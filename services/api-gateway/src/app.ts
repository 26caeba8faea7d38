import rateLimit from '@fastify/rate-limit'
import swagger from '@fastify/swagger'
import { createPublicApp, HttpProblem, installJsonBodyParser } from '@zt/service-kit'
import type { FastifyInstance } from 'fastify'
import {
  jsonSchemaTransform,
  serializerCompiler,
  validatorCompiler,
  type ZodTypeProvider,
} from 'fastify-type-provider-zod'
import type { Registry } from 'prom-client'
import type { Config } from './config.js'
import { redirectRoutes } from './routes/redirect.js'
import { urlRoutes } from './routes/urls.js'
import type { UrlServiceClient } from './url-service-client.js'

export const serviceName = 'api-gateway'

/** Requests carry a URL and two short fields; nothing legitimate comes near this. */
export const bodyLimit = 8 * 1024

export interface AppOptions {
  config: Pick<
    Config,
    'LOG_LEVEL' | 'PUBLIC_BASE_URL' | 'TRUSTED_PROXIES' | 'RATE_LIMIT_MAX' | 'RATE_LIMIT_WINDOW_MS'
  >
  urlService: UrlServiceClient
  registry: Registry
}

export async function buildApp(options: AppOptions): Promise<FastifyInstance> {
  const { config } = options
  const app = createPublicApp({
    service: serviceName,
    logLevel: config.LOG_LEVEL,
    trustedProxies: config.TRUSTED_PROXIES,
    bodyLimit,
    registry: options.registry,
  }).withTypeProvider<ZodTypeProvider>()
  app.setValidatorCompiler(validatorCompiler)
  app.setSerializerCompiler(serializerCompiler)
  // JSON only: any other body type is answered 415 before a handler runs,
  // and a body that is not UTF-8 400 (never decoded with U+FFFD in the gaps).
  installJsonBodyParser(app)
  app.removeContentTypeParser('text/plain')
  app.addContentTypeParser('*', (_request, _payload, done) =>
    done(new HttpProblem(415, 'Send the request body as application/json.'), undefined),
  )

  app.addHook('onSend', async (request, reply) => {
    reply.header('x-request-id', request.id)
  })

  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'URL shortener public API',
        description:
          'Served by the api-gateway and, for browsers, through the frontend. Errors are RFC 9457 problem+json.',
        version: '1.0.0',
      },
    },
    transform: jsonSchemaTransform,
  })

  await app.register(rateLimit, {
    max: config.RATE_LIMIT_MAX,
    timeWindow: config.RATE_LIMIT_WINDOW_MS,
    errorResponseBuilder: (_request, context) =>
      new HttpProblem(429, `Too many requests; retry in ${context.after}.`),
  })

  await app.register(urlRoutes, {
    urlService: options.urlService,
    publicBaseUrl: config.PUBLIC_BASE_URL,
  })
  await app.register(redirectRoutes, { urlService: options.urlService })

  app.get('/api/openapi.json', { schema: { hide: true } }, async () => app.swagger())

  return app
}
