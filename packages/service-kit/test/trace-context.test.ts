import { context, propagation, ROOT_CONTEXT, trace } from '@opentelemetry/api'
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks'
import { isTracingSuppressed } from '@opentelemetry/core'
import { InMemorySpanExporter, SimpleSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace'
import Fastify from 'fastify'
import t from 'tap'
import {
  activeSpanContext,
  currentTraceparent,
  flushTraces,
  ignoreIncomingTraceContext,
  inLinkedSpan,
  installTraceResponse,
  recordSpiffeIds,
  spiffeIdsKey,
  untraced,
  withSpiffeIds,
} from '../src/trace-context.js'

const traceId = '4bf92f3577b34da6a3ce929d0e0e4736'
const incoming = { traceparent: `00-${traceId}-00f067aa0ba902b7-01` }
const getter = {
  keys: (carrier: Record<string, string>) => Object.keys(carrier),
  get: (carrier: Record<string, string>, key: string) => carrier[key],
}
const setter = {
  set: (carrier: Record<string, string>, key: string, value: string) => {
    carrier[key] = value
  },
}

t.test('the public edge ignores trace context from the internet and sends its own', async (t) => {
  t.teardown(() => propagation.disable())
  ignoreIncomingTraceContext()
  const extracted = propagation.extract(ROOT_CONTEXT, incoming, getter)
  t.equal(trace.getSpanContext(extracted), undefined, "the client's traceparent is not adopted")

  const own = trace.setSpanContext(ROOT_CONTEXT, {
    traceId: '0af7651916cd43dd8448eb211c80319c',
    spanId: 'b7ad6b7169203331',
    traceFlags: 1,
  })
  const outgoing: Record<string, string> = {}
  propagation.inject(own, outgoing, setter)
  t.equal(outgoing.traceparent, '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01')
})

t.test('untraced runs its function with tracing suppressed, and only it', async (t) => {
  // What the SDK installs when tracing is on; without it context is a no-op.
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable())
  t.teardown(() => context.disable())
  t.ok(untraced(() => isTracingSuppressed(context.active())))
  t.notOk(isTracingSuppressed(context.active()))
  t.equal(
    untraced(() => 42),
    42,
  )
})

t.test('with a tracer: links, traceparents, SPIFFE ids and traceresponse', async (t) => {
  const exporter = new InMemorySpanExporter()
  const provider = new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter })] })
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable())
  trace.setGlobalTracerProvider(provider)
  t.teardown(() => {
    trace.disable()
    context.disable()
  })
  const ids = { local: 'spiffe://zt.local/a', peer: 'spiffe://zt.local/b' }
  const tracer = trace.getTracer('test')

  t.equal(currentTraceparent(), undefined, 'no span, no traceparent')
  const parent = tracer.startActiveSpan('request', (span) => {
    t.ok(activeSpanContext(), 'the active span')
    t.equal(
      withSpiffeIds(ids, () => context.active().getValue(spiffeIdsKey)),
      ids,
      'the ids ride the context of the call',
    )
    const value = currentTraceparent()
    span.end()
    return value
  })
  t.match(parent, /^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/)

  await inLinkedSpan('process', [parent as string, 'not a traceparent'], async () => undefined)
  await t.rejects(
    inLinkedSpan('process', [], async () => {
      throw new Error('boom')
    }),
    /boom/,
  )
  await flushTraces()
  const spans = exporter.getFinishedSpans()
  const processed = spans.filter((s) => s.name === 'process')
  t.equal(processed[0]?.links.length, 1, 'one link: the malformed value is dropped')
  t.equal(processed[0]?.links[0]?.context.traceId, parent?.split('-')[1])
  t.equal(processed[1]?.status.code, 2, 'a failure marks the span as an error')

  // traceresponse and the request span's ids, with a span standing in for
  // @fastify/otel's request span.
  const app = Fastify()
  app.addHook('onRequest', async (request) => {
    const span = tracer.startSpan('GET')
    Object.assign(request, { opentelemetry: () => ({ span }) })
  })
  installTraceResponse(app)
  app.get('/', async (request) => {
    recordSpiffeIds(request, ids)
    return 'ok'
  })
  const res = await app.inject('/')
  t.match(res.headers.traceresponse, /^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/)
  await app.close()
})
