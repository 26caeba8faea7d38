import fastifyStatic from '@fastify/static'
import { createPublicApp } from '@zt/service-kit'
import type { FastifyInstance } from 'fastify'
import helmet from 'helmet'
import type { Registry } from 'prom-client'
import type { Config } from './config.js'
import { gatewayProxy } from './proxy.js'

export const serviceName = 'frontend'

/** The UI sends a URL and two short fields; the gateway enforces the same bound. */
export const bodyLimit = 8 * 1024

export interface AppOptions {
  config: Pick<Config, 'LOG_LEVEL' | 'API_GATEWAY_URL' | 'TRUSTED_PROXIES'>
  /** Directory holding the built UI (see prepareAssets). */
  assetsRoot: string
  registry: Registry
  /** Longest wait for the gateway; it bounds its own upstream calls well below this. */
  gatewayTimeoutMs?: number
}

/**
 * Everything loads from this origin: no inline script or style, no third
 * party, no framing, no plugins. A markup injection has nothing to run.
 */
export const contentSecurityPolicy = {
  defaultSrc: ["'self'"],
  scriptSrc: ["'self'"],
  styleSrc: ["'self'"],
  imgSrc: ["'self'"],
  connectSrc: ["'self'"],
  fontSrc: ["'self'"],
  objectSrc: ["'none'"],
  baseUri: ["'none'"],
  formAction: ["'self'"],
  frameAncestors: ["'none'"],
}

export async function buildApp(options: AppOptions): Promise<FastifyInstance> {
  const { config } = options
  const app = createPublicApp({
    service: serviceName,
    logLevel: config.LOG_LEVEL,
    trustedProxies: config.TRUSTED_PROXIES,
    bodyLimit,
    registry: options.registry,
  })

  // Built once: @fastify/helmet rebuilt this middleware (parsing every CSP
  // directive) on each request, a tenth of a relayed request's CPU.
  const securityHeaders = helmet({
    contentSecurityPolicy: { useDefaults: false, directives: contentSecurityPolicy },
    // The same rule as frame-ancestors 'none', for browsers without CSP 2.
    frameguard: { action: 'deny' },
  })
  app.addHook('onRequest', (request, reply, done) => {
    // helmet throws rather than passing errors on (since 8.1), so next() has no argument.
    securityHeaders(request.raw, reply.raw, () => done())
  })
  await app.register(fastifyStatic, {
    root: options.assetsRoot,
    // Routes for the files that exist, nothing for anything else.
    wildcard: false,
    index: ['index.html'],
  })
  await app.register(gatewayProxy, {
    gatewayUrl: config.API_GATEWAY_URL,
    timeoutMs: options.gatewayTimeoutMs ?? 10_000,
  })
  return app
}
