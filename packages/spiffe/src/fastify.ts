import type { Http2SecureServer } from 'node:http2'
import type { Server as HttpsServer } from 'node:https'
import { Server as TlsServer } from 'node:tls'
import type { FastifyInstance } from 'fastify'
import { type Authorizer, authorizeMemberOf } from './authorize.js'
import { AuthorizationError } from './errors.js'
import type { SpiffeId } from './id.js'
import type { X509Source } from './source.js'
import { attachMtls, peerSpiffeId } from './tls-server.js'

declare module 'fastify' {
  interface FastifyRequest {
    /** The caller's verified SPIFFE ID (set on every request of an installSpiffe server). */
    spiffeId: SpiffeId
  }
  interface FastifyContextConfig {
    /** Which callers may use this route; defaults to installSpiffe's `authorizer`. */
    spiffe?: Authorizer
  }
}

export interface InstallSpiffeOptions {
  source: X509Source
  /** Callers a route admits unless its `config.spiffe` says otherwise. */
  authorizer: Authorizer
  /**
   * Callers that may open a connection at all (default: members of our own
   * trust domain). Others get no answer; admitted callers a route refuses get 403.
   */
  connectionAuthorizer?: Authorizer
}

/**
 * A refusal for the app's error handler to render (service-kit's answers
 * problem+json); Fastify takes the status from `statusCode`.
 */
class Forbidden extends Error {
  readonly statusCode = 403
  constructor(message: string) {
    super(message)
    this.name = 'Forbidden'
  }
}

/**
 * Wires SPIFFE mTLS into a Fastify app created with
 * `https: createMtlsServerOptions(source)`: verifies every client connection,
 * follows rotation, sets `request.spiffeId`, binds `peerId` into the request
 * logger and answers 403 when a route's authorizer refuses the caller, in
 * whatever form the app's error handler gives errors. Call before
 * registering routes.
 */
export function installSpiffe<Server extends HttpsServer | Http2SecureServer>(
  app: FastifyInstance<Server>,
  options: InstallSpiffeOptions,
): void {
  const { source } = options
  if (!(app.server instanceof TlsServer)) {
    throw new TypeError('installSpiffe needs a Fastify app created with https options')
  }
  const detach = attachMtls(app.server, source, {
    authorizer: options.connectionAuthorizer ?? authorizeMemberOf(source.svid().id.trustDomain),
    logger: app.log,
  })
  app.addHook('onClose', async () => detach())

  const factory = app.childLoggerFactory
  app.setChildLoggerFactory(function childLogger(logger, bindings, childOptions, rawRequest) {
    const id = peerSpiffeId(rawRequest.socket)
    return factory.call(
      this,
      logger,
      id ? { ...bindings, peerId: id.toString() } : bindings,
      childOptions,
      rawRequest,
    )
  })

  app.decorateRequest('spiffeId', null as unknown as SpiffeId)
  app.addHook('onRequest', async (request, reply) => {
    const id = peerSpiffeId(request.raw.socket)
    // attachMtls destroys unverified connections before any request is read;
    // what is left is a caller whose certificate expired on a kept-alive
    // connection. Closing it makes the caller reconnect with a fresh SVID.
    if (id === undefined) {
      reply.header('connection', 'close')
      throw new Forbidden('the caller has no valid SPIFFE ID on this connection')
    }
    request.spiffeId = id
    const authorizer = request.routeOptions.config.spiffe ?? options.authorizer
    try {
      authorizer(id)
    } catch (error) {
      if (error instanceof AuthorizationError) {
        throw new Forbidden(`${id} may not call this route`)
      }
      throw error
    }
  })
}
