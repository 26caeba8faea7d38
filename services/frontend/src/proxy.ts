import { HttpProblem, untraced } from '@zt/service-kit'
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify'
import { Pool, request } from 'undici'

export interface GatewayProxyOptions {
  /** Origin of the api-gateway, e.g. http://api-gateway.services.svc.cluster.local:8000. */
  gatewayUrl: string
  timeoutMs: number
}

/** Paths the gateway serves to the public; nothing else is relayed. */
const relayed = /^\/(api|r)\//

// Only what the gateway needs travels on. Cookies, authorization, any
// client-made X-Forwarded-* or Forwarded header, and the client's trace
// context (see ignoreIncomingTraceContext) stay behind; with tracing on,
// undici's instrumentation sends this service's own.
const forwardedRequestHeaders = ['accept', 'content-type', 'user-agent', 'referer'] as const

/** Answers up to this size are read whole before they are relayed. */
const bufferedAnswerBytes = 64 * 1024

// Hop-by-hop headers (RFC 9110 section 7.6.1) describe one connection only.
const hopByHop = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'te',
  'trailer',
  'upgrade',
])

/**
 * Relays /api/* and /r/* to the api-gateway, so browsers never reach it
 * directly: the NetworkPolicy admits only frontend pods to the gateway.
 * Bodies travel as raw bytes; validating them is the gateway's job.
 */
export const gatewayProxy: FastifyPluginAsync<GatewayProxyOptions> = async (app, options) => {
  app.removeAllContentTypeParsers()
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, body, done) => done(null, body))

  const unavailable = () =>
    new HttpProblem(503, 'The service is unavailable. Try again shortly.', {
      headers: { 'retry-after': '1' },
    })

  // One keep-alive pool to the gateway's origin for the life of the app. The
  // timeouts live on the pool (undici arms them per request anyway): an
  // AbortSignal.timeout per request cost a timer, a weak reference and, when
  // it fired long after the answer, a DOMException with a stack trace.
  const gateway = new Pool(new URL(options.gatewayUrl).origin, {
    headersTimeout: options.timeoutMs,
    bodyTimeout: options.timeoutMs,
  })
  app.addHook('onClose', () => gateway.close())

  async function relay(incoming: FastifyRequest, reply: FastifyReply) {
    // Build the target from the path alone: an absolute-form request line
    // (GET http://elsewhere/...) or a dot segment must not move the request
    // off the gateway or outside its public paths.
    const { pathname, search } = new URL(incoming.url, 'http://frontend.invalid')
    if (!relayed.test(pathname))
      throw new HttpProblem(404, `no route for ${incoming.method} ${pathname}`)

    const headers: Record<string, string> = {
      'x-request-id': incoming.id,
      // The one address the gateway keys its rate limit on: the browser as
      // this service determined it, replacing whatever the client claimed.
      'x-forwarded-for': incoming.ip,
    }
    for (const name of forwardedRequestHeaders) {
      const value = incoming.headers[name]
      if (typeof value === 'string') headers[name] = value
    }

    let upstream: Awaited<ReturnType<typeof gateway.request>>
    // The gateway's answers are small and sized (a redirect, a JSON
    // document): read whole, each leaves in one write with its headers, for
    // less CPU than piping a stream, and one cut short is a clean 503 rather
    // than a truncated answer. Anything larger or unsized is streamed.
    let body: Buffer | undefined
    try {
      upstream = await gateway.request({
        path: `${pathname}${search}`,
        method: incoming.method as 'GET' | 'POST',
        headers,
        body: Buffer.isBuffer(incoming.body) ? incoming.body : undefined,
      })
      if (Number(upstream.headers['content-length']) <= bufferedAnswerBytes) {
        const bytes = await upstream.body.bytes()
        body = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
      }
    } catch (error) {
      incoming.log.warn({ err: error }, 'api-gateway unreachable, or its answer cut off')
      throw unavailable()
    }
    reply.code(upstream.statusCode)
    for (const [name, value] of Object.entries(upstream.headers)) {
      if (value !== undefined && !hopByHop.has(name)) reply.header(name, value)
    }
    return reply.send(body ?? upstream.body)
  }

  app.route({ method: ['GET', 'POST'], url: '/api/*', handler: relay })
  // HEAD would reach the gateway as a visit-less probe it does not serve.
  app.route({ method: 'GET', url: '/r/*', handler: relay, exposeHeadRoute: false })
}

/** Readiness: the gateway answers HTTP at all (its own readiness covers the rest). */
export function gatewayReadiness(gatewayUrl: string, timeoutMs: number): () => Promise<void> {
  const probe = new URL('/api/openapi.json', gatewayUrl)
  return async () => {
    let status: number
    try {
      const response = await untraced(() =>
        request(probe, { signal: AbortSignal.timeout(timeoutMs) }),
      )
      status = response.statusCode
      await response.body.dump()
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code
      throw new Error(`api-gateway unreachable${code ? `: ${code}` : ''}`)
    }
    if (status >= 500) throw new Error(`api-gateway answered ${status}`)
  }
}
