import { subscribe } from 'node:diagnostics_channel'
import { FastifyOtelInstrumentation } from '@fastify/otel'
import {
  context,
  isSpanContextValid,
  propagation,
  ROOT_CONTEXT,
  type Span,
  type SpanContext,
  TraceFlags,
  trace,
} from '@opentelemetry/api'
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks'
import { suppressTracing, W3CTraceContextPropagator } from '@opentelemetry/core'
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http'
import { registerInstrumentations } from '@opentelemetry/instrumentation'
import { AwsInstrumentation } from '@opentelemetry/instrumentation-aws-sdk'
import { PgInstrumentation } from '@opentelemetry/instrumentation-pg'
import { UndiciInstrumentation } from '@opentelemetry/instrumentation-undici'
import { detectResources, envDetector } from '@opentelemetry/resources'
import {
  AlwaysOffSampler,
  AlwaysOnSampler,
  BatchSpanProcessor,
  ParentBasedSampler,
  type Sampler,
  type SpanProcessor,
  TraceIdRatioBasedSampler,
  TracerProvider,
} from '@opentelemetry/sdk-trace'
import type { FastifyInstance } from 'fastify'
import { type SpiffeIds, spiffeAttributes, spiffeIdsKey } from './trace-context.js'

/**
 * Probed every few seconds, they would drown the traces: the ops port's
 * routes, and the gateway's API description, which the frontend's readiness
 * check fetches (a static document, nothing to trace).
 */
const probedPaths = /^\/(healthz|readyz|metrics|api\/openapi\.json)(\?|$)/

/**
 * A query string may carry anything a caller typed (tokens included), so no
 * span keeps one: the path stays, the query is marked as removed.
 */
const withoutQuery: SpanProcessor = {
  onStart(span: Span & { attributes?: Record<string, unknown> }) {
    for (const key of ['url.full', 'url.path']) {
      const value = span.attributes?.[key]
      if (typeof value === 'string' && value.includes('?')) {
        span.setAttribute(key, value.slice(0, value.indexOf('?')))
      }
    }
    const query = span.attributes?.['url.query']
    if (typeof query === 'string' && query !== '') span.setAttribute('url.query', 'REDACTED')
  },
  onEnd: () => undefined,
  forceFlush: async () => undefined,
  shutdown: async () => undefined,
}

/** The sampler, and what it decides before any span exists. */
interface Sampling {
  sampler: Sampler
  /**
   * False when no span under this parent (undefined: none) can be
   * recorded, whatever its trace id: the request need not be traced at all.
   */
  mayRecord(parent: SpanContext | undefined): boolean
}

/**
 * OTEL_TRACES_SAMPLER as the specification names them; parentbased_always_on
 * (follow the caller, keep every new trace) when unset or unknown.
 */
function samplingFromEnv(): Sampling {
  const ratio = number('OTEL_TRACES_SAMPLER_ARG') ?? 1
  const byRatio = new TraceIdRatioBasedSampler(ratio)
  // ParentBasedSampler's defaults: a sampled parent is followed, an
  // unsampled one too; only a span without a parent asks the root sampler.
  const parentBased = (root: Sampler, rootMayRecord: boolean): Sampling => ({
    sampler: new ParentBasedSampler({ root }),
    mayRecord: (parent) =>
      parent === undefined ? rootMayRecord : (parent.traceFlags & TraceFlags.SAMPLED) !== 0,
  })
  switch (process.env.OTEL_TRACES_SAMPLER) {
    case 'always_on':
      return { sampler: new AlwaysOnSampler(), mayRecord: () => true }
    case 'always_off':
      return { sampler: new AlwaysOffSampler(), mayRecord: () => false }
    case 'traceidratio':
      return { sampler: byRatio, mayRecord: () => ratio > 0 }
    case 'parentbased_always_off':
      return parentBased(new AlwaysOffSampler(), false)
    case 'parentbased_traceidratio':
      return parentBased(byRatio, ratio > 0)
    default:
      return parentBased(new AlwaysOnSampler(), true)
  }
}

/**
 * A request the sampler cannot record is not traced at all: no server span,
 * so pg records none of its queries and undici none of its calls (below),
 * and it runs with tracing suppressed, so anything else it calls gets the
 * SDK's empty span without sampling, ids or attributes. At 10% sampling
 * nine requests in ten are such requests (what that saves, and what
 * tracing still costs: docs/performance.md).
 *
 * Fastify announces each new app on this channel; subscribed before
 * @fastify/otel is, this hook is the app's first, and calls the next one,
 * @fastify/otel's, at once: that one asks `ignorePaths` (below) whether to
 * start a span, and the answer is the decision made here, which it cannot
 * make itself: it is not shown the request's headers.
 */
let unrecordable = false

function traceOnlyRecordableRequests(sampling: Sampling): void {
  subscribe('fastify.initialization', (message) => {
    const { fastify } = message as { fastify: FastifyInstance }
    fastify.addHook('onRequest', (request, _reply, done) => {
      const parent = trace.getSpanContext(propagation.extract(ROOT_CONTEXT, request.headers))
      unrecordable = !sampling.mayRecord(parent)
      if (!unrecordable) return done()
      context.with(suppressTracing(context.active()), done)
    })
  })
}

function skipRequestSpan(url: string): boolean {
  const skip = unrecordable || probedPaths.test(url)
  unrecordable = false
  return skip
}

/**
 * undici's instrumentation records a call only inside a sampled span: a
 * call outside one would otherwise pay for a span nobody keeps (URL parsed,
 * attributes built, headers scanned), or, outside any request, start a
 * trace of its own. A call inside an unsampled span still tells the service
 * behind it that the trace is not sampled, so that it does not start one.
 */
function recordOnlySampledCalls(request: { addHeader(name: string, value: string): unknown }) {
  const span = trace.getActiveSpan()?.spanContext()
  if (span === undefined || !isSpanContextValid(span)) return true
  if ((span.traceFlags & TraceFlags.SAMPLED) !== 0) return false
  request.addHeader('traceparent', `00-${span.traceId}-${span.spanId}-00`)
  return true
}

function number(name: string): number | undefined {
  const value = Number(process.env[name])
  return process.env[name] && Number.isFinite(value) ? value : undefined
}

/**
 * Spans over OTLP/HTTP (JSON), set up from the standard variables: the
 * exporter reads OTEL_EXPORTER_OTLP_*, the resource OTEL_SERVICE_NAME and
 * OTEL_RESOURCE_ATTRIBUTES, the sampler OTEL_TRACES_SAMPLER(_ARG), the batch
 * OTEL_BSP_SCHEDULE_DELAY. The SDK's 3.x line no longer reads the last two
 * itself, hence the few lines here.
 */
export function startTracing(): TracerProvider {
  const delay = number('OTEL_BSP_SCHEDULE_DELAY')
  const sampling = samplingFromEnv()
  const provider = new TracerProvider({
    resource: detectResources({ detectors: [envDetector] }),
    sampler: sampling.sampler,
    spanProcessors: [
      withoutQuery,
      new BatchSpanProcessor({
        exporter: new OTLPTraceExporter(),
        ...(delay === undefined ? {} : { scheduledDelayMillis: delay }),
      }),
    ],
  })
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable())
  propagation.setGlobalPropagator(new W3CTraceContextPropagator())
  trace.setGlobalTracerProvider(provider)
  traceOnlyRecordableRequests(sampling)
  registerInstrumentations({
    tracerProvider: provider,
    instrumentations: [
      new FastifyOtelInstrumentation({
        registerOnInitialization: true,
        // One span per request. A span per hook and one for the handler
        // added about 5% to a redirect's CPU at 10% sampling (paired runs,
        // docs/performance.md) and tell an operator little that the
        // request span and its children do not.
        instrumentHooks: false,
        instrumentHandler: false,
        ignorePaths: ({ url }) => skipRequestSpan(url),
      }),
      new UndiciInstrumentation({
        ignoreRequestHook: recordOnlySampledCalls,
        // Called in the caller's context, where withSpiffeIds put the ids.
        requestHook: (span) => {
          const ids = context.active().getValue(spiffeIdsKey) as SpiffeIds | undefined
          if (ids) span.setAttributes(spiffeAttributes(ids))
        },
      }),
      // Statements are recorded with their $1 placeholders, never the values.
      // Only inside a span: the relay and the worker poll the database
      // several times a second, and each poll would be a trace of its own.
      new PgInstrumentation({ requireParentSpan: true }),
      new AwsInstrumentation(),
    ],
  })
  return provider
}
