import {
  context,
  createContextKey,
  isSpanContextValid,
  type Link,
  propagation,
  type Span,
  type SpanContext,
  SpanKind,
  SpanStatusCode,
  trace,
} from '@opentelemetry/api'
import { suppressTracing, W3CTraceContextPropagator } from '@opentelemetry/core'
import type { FastifyInstance, FastifyRequest } from 'fastify'

/** The current span's context, when tracing is on and this request is traced. */
export function activeSpanContext(): SpanContext | undefined {
  const spanContext = trace.getActiveSpan()?.spanContext()
  return spanContext && isSpanContextValid(spanContext) ? spanContext : undefined
}

/**
 * The request's own server span, asked of the request rather than taken from
 * the active context, where a span started inside a hook would stand instead.
 */
export function requestSpan(request: FastifyRequest): Span | undefined {
  const otel = (request as { opentelemetry?: () => { span?: Span | null } }).opentelemetry?.()
  return otel?.span ?? undefined
}

/**
 * W3C Trace Context level 2 `traceresponse` on every response that was
 * recorded, so a user can quote the trace id of a request that went wrong.
 * Without tracing, or for a request the sampler left out, there is no trace
 * to find, and no header.
 */
export function installTraceResponse(app: FastifyInstance): void {
  // A callback hook, not an async one: it runs on every public response,
  // traced or not, and an async hook costs a promise each time.
  app.addHook('onSend', (request, reply, payload, done) => {
    const span = requestSpan(request)?.spanContext()
    if (span && isSpanContextValid(span) && (span.traceFlags & 1) === 1) {
      reply.header('traceresponse', `00-${span.traceId}-${span.spanId}-01`)
    }
    done(null, payload)
  })
}

/**
 * For the public edge: trace context that arrives from the internet is not
 * believed, or any client could choose the trace id and force every hop to
 * record its requests. The edge starts each trace itself, and its own
 * context still goes out to the services behind it.
 */
export function ignoreIncomingTraceContext(): void {
  const w3c = new W3CTraceContextPropagator()
  propagation.disable()
  propagation.setGlobalPropagator({
    inject: (ctx, carrier, setter) => w3c.inject(ctx, carrier, setter),
    extract: (ctx) => ctx,
    fields: () => w3c.fields(),
  })
}

/** Runs fn without recording spans: a probe every few seconds would bury the traces people look for. */
export function untraced<T>(fn: () => T): T {
  return context.with(suppressTracing(context.active()), fn)
}

/** Exports the spans still batched (none without tracing); never throws. */
export async function flushTraces(): Promise<void> {
  // The global provider is a proxy; the SDK's provider, when set, is its delegate.
  const proxy = trace.getTracerProvider() as { getDelegate?: () => object }
  const provider = proxy.getDelegate?.() as { forceFlush?: () => Promise<void> } | undefined
  await provider?.forceFlush?.().catch(() => undefined)
}

/** Both ends of an mTLS hop, as SPIFFE IDs. */
export interface SpiffeIds {
  /** This workload's own ID. */
  local: string
  /** The peer the handshake verified (or, on a client, will verify). */
  peer: string
}

export function spiffeAttributes(ids: SpiffeIds): Record<string, string> {
  return { 'spiffe.id': ids.local, 'spiffe.peer.id': ids.peer }
}

/** On a server: the ids on the span of the request being served. */
export function recordSpiffeIds(request: FastifyRequest, ids: SpiffeIds): void {
  requestSpan(request)?.setAttributes(spiffeAttributes(ids))
}

// A Symbol.for key, so every copy of this module reads the same value.
export const spiffeIdsKey = createContextKey('zt.spiffe.ids')

/**
 * On a client: runs `call` so the HTTP client span it starts (undici's,
 * created inside the call) carries the ids.
 */
export function withSpiffeIds<T>(ids: SpiffeIds, call: () => T): T {
  return context.with(context.active().setValue(spiffeIdsKey, ids), call)
}

const traceparentPattern = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/

/**
 * The current span as a W3C traceparent, when it is sampled: what a message
 * carries so that its consumer can link back to the request that caused it.
 */
export function currentTraceparent(): string | undefined {
  const span = activeSpanContext()
  if (!span || (span.traceFlags & 1) === 0) return undefined
  return `00-${span.traceId}-${span.spanId}-01`
}

/**
 * Runs `work` in a consumer span that links to the requests behind what it
 * processes: work that merges many requests belongs to none of their traces.
 */
export function inLinkedSpan<T>(
  name: string,
  traceparents: readonly string[],
  work: () => Promise<T>,
): Promise<T> {
  const links: Link[] = traceparents.flatMap((value) => {
    const match = traceparentPattern.exec(value)
    if (!match) return []
    const [, traceId = '', spanId = '', flags = '00'] = match
    return [
      { context: { traceId, spanId, traceFlags: Number.parseInt(flags, 16), isRemote: true } },
    ]
  })
  return trace
    .getTracer('@zt/service-kit')
    .startActiveSpan(name, { kind: SpanKind.CONSUMER, links }, async (span) => {
      try {
        return await work()
      } catch (error) {
        span.setStatus({ code: SpanStatusCode.ERROR })
        throw error
      } finally {
        span.end()
      }
    })
}
