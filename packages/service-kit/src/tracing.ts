import { FastifyOtelInstrumentation } from '@fastify/otel'
import { context, propagation, type Span, trace } from '@opentelemetry/api'
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks'
import { W3CTraceContextPropagator } from '@opentelemetry/core'
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

/**
 * OTEL_TRACES_SAMPLER as the specification names them; parentbased_always_on
 * (follow the caller, keep every new trace) when unset or unknown.
 */
function samplerFromEnv(): Sampler {
  const ratio = new TraceIdRatioBasedSampler(number('OTEL_TRACES_SAMPLER_ARG') ?? 1)
  switch (process.env.OTEL_TRACES_SAMPLER) {
    case 'always_on':
      return new AlwaysOnSampler()
    case 'always_off':
      return new AlwaysOffSampler()
    case 'traceidratio':
      return ratio
    case 'parentbased_always_off':
      return new ParentBasedSampler({ root: new AlwaysOffSampler() })
    case 'parentbased_traceidratio':
      return new ParentBasedSampler({ root: ratio })
    default:
      return new ParentBasedSampler({ root: new AlwaysOnSampler() })
  }
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
  const provider = new TracerProvider({
    resource: detectResources({ detectors: [envDetector] }),
    sampler: samplerFromEnv(),
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
        ignorePaths: ({ url }) => probedPaths.test(url),
      }),
      new UndiciInstrumentation({
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
