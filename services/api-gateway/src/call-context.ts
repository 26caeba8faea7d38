import { activeSpanContext } from '@zt/service-kit'
import type { FastifyRequest } from 'fastify'
import { traceparentFor } from './trace.js'
import type { CallContext } from './url-service-client.js'

/** The request id, trace context and logger that follow a request upstream. */
export function callContext(request: FastifyRequest): CallContext {
  return {
    requestId: request.id,
    // Traced, the undici instrumentation sends this span's own context.
    traceparent:
      activeSpanContext() === undefined ? traceparentFor(request.headers.traceparent) : undefined,
    log: request.log,
  }
}
