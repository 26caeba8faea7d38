import { randomUUID } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import {
  type CreateUrlRequest,
  internalRoutes,
  type ListQuery,
  type ResolveRequest,
  ResolveResponse,
  TargetUrl,
  UrlPage,
  UrlRecord,
} from '@zt/contracts'
import { type SpiffeIds, withSpiffeIds } from '@zt/service-kit'
import type { FastifyBaseLogger } from 'fastify'
import { Histogram, type Registry } from 'prom-client'
import type { Dispatcher } from 'undici'
import type { z } from 'zod'
import { traceparentFor } from './trace.js'
import { type Answer, badGateway, interpret, unavailable } from './url-service-answer.js'

/** What every call carries so one request can be followed across services. */
export interface CallContext {
  requestId: string
  /** Sent by hand only when tracing is off; otherwise the instrumentation propagates. */
  traceparent: string | undefined
  log: FastifyBaseLogger
}

/**
 * url-service as the gateway sees it. Every method resolves with validated
 * data or throws an HttpProblem fit for the public caller: the upstream's 4xx
 * problem as is, 502 when url-service fails, 503 when it cannot be reached.
 */
export interface UrlServiceClient {
  create(input: CreateUrlRequest, ctx: CallContext): Promise<UrlRecord>
  get(code: string, ctx: CallContext): Promise<UrlRecord>
  list(query: ListQuery, ctx: CallContext): Promise<UrlPage>
  resolve(code: string, visit: ResolveRequest, ctx: CallContext): Promise<ResolveResponse>
  /** Resolves when url-service answers over mutual TLS at all; for readiness. */
  ping(): Promise<void>
}

export interface HttpUrlServiceClientOptions {
  /** https://host:port of url-service. */
  baseUrl: string
  /** Carries the mutual TLS: the SPIFFE dispatcher in production. */
  dispatcher: Dispatcher
  /** Budget for one call, retries included. */
  timeoutMs: number
  /** Extra attempts for idempotent reads. */
  retries?: number
  registry?: Registry
  /** Both ends of the mTLS hop, recorded on each call's client span. */
  spiffe?: SpiffeIds
}

interface Call {
  operation: string
  method: 'GET' | 'POST'
  path: string
  body?: unknown
  /** Only reads are retried after a failure once sent: a retried create or resolve could act twice. */
  idempotent: boolean
  ctx: CallContext
}

export function createHttpUrlServiceClient(options: HttpUrlServiceClientOptions): UrlServiceClient {
  const retries = options.retries ?? 2
  const duration = new Histogram({
    name: 'url_service_request_duration_seconds',
    help: 'Calls from the gateway to url-service, by operation and outcome',
    labelNames: ['operation', 'outcome'] as const,
    buckets: [0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: options.registry ? [options.registry] : [],
  })

  const origin = new URL(options.baseUrl).origin

  async function send(
    call: Pick<Call, 'method' | 'path' | 'body'>,
    trace: Pick<CallContext, 'requestId' | 'traceparent'>,
    timeoutMs: number,
  ): Promise<Answer> {
    const headers: Record<string, string> = {
      accept: 'application/json',
      'x-request-id': trace.requestId,
    }
    if (trace.traceparent !== undefined) headers.traceparent = trace.traceparent
    if (call.body !== undefined) headers['content-type'] = 'application/json'
    // A timer cleared when the answer is in, not AbortSignal.timeout: that one
    // stays armed for the whole budget after every call, and when it fires
    // builds a DOMException with a stack trace, for nothing.
    const deadline = new AbortController()
    const timer = setTimeout(
      () => deadline.abort(new DOMException('url-service call timed out', 'TimeoutError')),
      timeoutMs,
    )
    try {
      const request = () =>
        options.dispatcher.request({
          origin,
          path: call.path,
          method: call.method,
          headers,
          body: call.body === undefined ? undefined : JSON.stringify(call.body),
          signal: deadline.signal,
        })
      const response = await (options.spiffe ? withSpiffeIds(options.spiffe, request) : request())
      const retryAfter = response.headers['retry-after']
      return {
        status: response.statusCode,
        body: await response.body.text(),
        retryAfter: typeof retryAfter === 'string' ? retryAfter : undefined,
      }
    } finally {
      clearTimeout(timer)
    }
  }

  /** Sends with a deadline; reads are retried with backoff while time is left. */
  async function exchange(call: Call): Promise<Answer> {
    const deadline = Date.now() + options.timeoutMs
    for (let attempt = 0; ; attempt++) {
      const backoff = 25 * 2 ** attempt * (0.5 + Math.random())
      // Judged after the attempt: only retry while a retry can still finish.
      const mayRetry = (safe: boolean) =>
        safe && attempt < retries && deadline - Date.now() > backoff * 2
      try {
        const left = Math.max(deadline - Date.now(), 1)
        const answer = await send(call, call.ctx, left)
        if (answer.status >= 500 && mayRetry(call.idempotent)) {
          await sleep(backoff)
          continue
        }
        return answer
      } catch (error) {
        const timedOut = error instanceof Error && error.name === 'TimeoutError'
        if (!timedOut && mayRetry(call.idempotent || neverSent(error))) {
          await sleep(backoff)
          continue
        }
        call.ctx.log.warn(
          { err: error, operation: call.operation, attempts: attempt + 1 },
          'url-service unreachable',
        )
        throw unavailable()
      }
    }
  }

  async function invoke<S extends z.ZodType>(call: Call, schema: S): Promise<z.output<S>> {
    const started = performance.now()
    let outcome = 'error'
    try {
      const answer = await exchange(call)
      outcome = `${Math.floor(answer.status / 100)}xx`
      return interpret(call, answer, schema)
    } finally {
      duration.observe({ operation: call.operation, outcome }, (performance.now() - started) / 1000)
    }
  }

  return {
    create: (input, ctx) =>
      invoke(
        {
          operation: 'create',
          method: 'POST',
          path: internalRoutes.urls,
          body: { ...input, expiresAt: input.expiresAt?.toISOString() },
          idempotent: false,
          ctx,
        },
        UrlRecord,
      ),
    get: (code, ctx) =>
      invoke(
        {
          operation: 'get',
          method: 'GET',
          path: codePath(internalRoutes.url, code),
          idempotent: true,
          ctx,
        },
        UrlRecord,
      ),
    list: (query, ctx) => {
      const search = new URLSearchParams({ limit: String(query.limit) })
      if (query.cursor !== undefined) search.set('cursor', query.cursor)
      return invoke(
        {
          operation: 'list',
          method: 'GET',
          path: `${internalRoutes.urls}?${search}`,
          idempotent: true,
          ctx,
        },
        UrlPage,
      )
    },
    resolve: async (code, visit, ctx) => {
      const answer = await invoke(
        {
          operation: 'resolve',
          method: 'POST',
          path: codePath(internalRoutes.resolve, code),
          body: visit,
          idempotent: false,
          ctx,
        },
        ResolveResponse,
      )
      // The gateway sends browsers wherever this says: hold the stored target
      // to the same rules as a new one, whatever url-service returns.
      if (!TargetUrl.safeParse(answer.url).success) {
        ctx.log.error({ code }, 'url-service resolved a code to an unacceptable target')
        throw badGateway()
      }
      return answer
    },
    async ping() {
      try {
        await send(
          { method: 'GET', path: `${internalRoutes.urls}?limit=1` },
          { requestId: `readyz-${randomUUID()}`, traceparent: traceparentFor(undefined) },
          options.timeoutMs,
        )
      } catch (error) {
        throw new Error(`url-service unreachable: ${describe(error)}`)
      }
    },
  }
}

// Failures before a connection existed: the request was never sent, so even
// a create or a resolve can be tried again without acting twice. A pod
// restarting (refused) or a DNS answer lost (EAI_AGAIN) is often gone by
// the next attempt.
const unsentCodes = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'UND_ERR_CONNECT_TIMEOUT'])

function neverSent(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code
  return typeof code === 'string' && unsentCodes.has(code)
}

function codePath(template: string, code: string): string {
  return template.replace(':code', encodeURIComponent(code))
}

function describe(error: unknown): string {
  if (!(error instanceof Error)) return 'unknown error'
  const code = (error as NodeJS.ErrnoException).code
  return code ? `${code} ${error.message}` : error.message
}
