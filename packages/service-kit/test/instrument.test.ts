import { spawn } from 'node:child_process'
import { createServer } from 'node:http'
import { join } from 'node:path'
import t, { type Test } from 'tap'

// Each case starts a Node process that loads the SDK through tsx: about 5 s
// apiece on two shared vCPUs, so the file outlasts tap's default 30 s.
t.setTimeout(120_000)

interface Exported {
  resourceSpans: {
    resource: { attributes: { key: string; value: { stringValue?: string } }[] }
    scopeSpans: {
      spans: {
        traceId: string
        spanId: string
        parentSpanId?: string
        name: string
        attributes: { key: string; value: unknown }[]
      }[]
    }[]
  }[]
}

/** An OTLP/HTTP receiver that keeps what it is sent. */
async function receiver(t: Test) {
  const exports: Exported[] = []
  const server = createServer((request, response) => {
    const chunks: Buffer[] = []
    request.on('data', (chunk: Buffer) => chunks.push(chunk))
    request.on('end', () => {
      exports.push(JSON.parse(Buffer.concat(chunks).toString('utf8')) as Exported)
      response.writeHead(200, { 'content-type': 'application/json' }).end('{}')
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => {
    server.closeAllConnections()
    server.close()
  })
  const address = server.address()
  const port = typeof address === 'object' && address ? address.port : 0
  return { url: `http://127.0.0.1:${port}`, exports }
}

async function runApp(env: Record<string, string>) {
  const child = spawn(
    process.execPath,
    [
      '--conditions=zt-source',
      '--import=tsx',
      '--import=./src/instrument.ts',
      'test/fixtures/traced-app.ts',
    ],
    { cwd: join(import.meta.dirname, '..'), env: { PATH: process.env.PATH ?? '', ...env } },
  )
  let out = ''
  let err = ''
  child.stdout.on('data', (chunk: Buffer) => (out += chunk))
  child.stderr.on('data', (chunk: Buffer) => (err += chunk))
  const code = await new Promise((resolve) => child.on('exit', resolve))
  if (code !== 0) throw new Error(`the app failed (${code}): ${err}`)
  return JSON.parse(out) as {
    status: number
    traceresponse: string | null
    provider: string
    /** The traceparent the handler's undici call carried, if any. */
    upstreamTraceparent: string | null
    /** Whether the handler ran with tracing suppressed. */
    suppressed: boolean | null
    /** Whether the handler ran inside a span (one pg would record queries under). */
    activeSpan: boolean | null
    /** Spans the SDK sampled and handed out unrecorded (each a decision paid for nothing). */
    unrecordedSpans: number
  }
}

function exportedSpans(exports: Exported[]) {
  return exports.flatMap((e) =>
    e.resourceSpans.flatMap((r) => {
      const service = r.resource.attributes.find((a) => a.key === 'service.name')?.value.stringValue
      return r.scopeSpans.flatMap((s) => s.spans.map((span) => ({ service, ...span })))
    }),
  )
}

const traceId = '4bf92f3577b34da6a3ce929d0e0e4736'
const unsampledTraceparent = /^00-[0-9a-f]{32}-[0-9a-f]{16}-00$/

t.test('with an endpoint, spans are exported and the response names its trace', async (t) => {
  const otlp = await receiver(t)
  const seen = await runApp({
    OTEL_EXPORTER_OTLP_ENDPOINT: otlp.url,
    OTEL_SERVICE_NAME: 'probe',
  })
  t.not(seen.provider, 'NoopTracerProvider', 'the SDK is the provider')
  const match = /^00-([0-9a-f]{32})-([0-9a-f]{16})-01$/.exec(seen.traceresponse ?? '')
  t.ok(match, `traceresponse: ${seen.traceresponse}`)
  const spans = exportedSpans(otlp.exports)
  const server = spans.find((span) => span.spanId === match?.[2])
  t.equal(server?.traceId, match?.[1], 'the header names the exported server span')
  t.equal(server?.service, 'probe', 'named by OTEL_SERVICE_NAME')
  t.same(
    spans.map((span) => span.name).sort(),
    ['GET', 'request'],
    "the server's request span and undici's span for the handler's call: none per hook or handler, which cost more than the request",
  )
  const call = spans.find((span) => span.name === 'GET')
  t.equal(call?.parentSpanId, server?.spanId, 'the call is a child of the request')
  t.equal(
    seen.upstreamTraceparent,
    `00-${server?.traceId}-${call?.spanId}-01`,
    'the call carries its own span as the parent',
  )
  const text = JSON.stringify(spans)
  t.ok(text.includes('/hello'), 'paths are kept')
  t.notOk(text.includes('s3cr3t'), 'no span keeps the query string')
})

t.test('a sampled caller is followed, by a service that starts no trace itself', async (t) => {
  const otlp = await receiver(t)
  const seen = await runApp({
    OTEL_EXPORTER_OTLP_ENDPOINT: otlp.url,
    OTEL_TRACES_SAMPLER: 'parentbased_always_off',
    FIXTURE_TRACEPARENT: `00-${traceId}-00f067aa0ba902b7-01`,
  })
  t.equal(seen.suppressed, false)
  t.same(
    exportedSpans(otlp.exports).map((span) => [span.name, span.traceId]),
    [
      ['GET', traceId],
      ['request', traceId],
    ],
  )
  t.match(seen.upstreamTraceparent, new RegExp(`^00-${traceId}-[0-9a-f]{16}-01$`))
})

// At 10% sampling nine requests in ten are not recorded. Such a request
// used to start a server span, a span per call and one per query, all
// thrown away; these tests pin that it starts none.
t.test('a request its caller did not sample is not traced here at all', async (t) => {
  const otlp = await receiver(t)
  const seen = await runApp({
    OTEL_EXPORTER_OTLP_ENDPOINT: otlp.url,
    OTEL_TRACES_SAMPLER: 'parentbased_traceidratio',
    OTEL_TRACES_SAMPLER_ARG: '1',
    FIXTURE_TRACEPARENT: `00-${traceId}-00f067aa0ba902b7-00`,
  })
  t.equal(seen.status, 200)
  t.equal(seen.suppressed, true, 'the handler runs with tracing suppressed')
  t.equal(seen.activeSpan, false, 'and in no span, not even an empty one: pg records no query')
  t.equal(seen.unrecordedSpans, 0, 'no span was sampled: the request and its call started none')
  t.equal(seen.traceresponse, null)
  t.same(otlp.exports, [], 'nothing was exported')
  // The api-gateway passes its caller's traceparent on itself (callContext).
  t.equal(seen.upstreamTraceparent, null, 'the instrumentation adds no trace context')
})

t.test('parentbased_always_off without a caller: nothing traced, nothing sampled', async (t) => {
  const otlp = await receiver(t)
  const seen = await runApp({
    OTEL_EXPORTER_OTLP_ENDPOINT: otlp.url,
    OTEL_TRACES_SAMPLER: 'parentbased_always_off',
  })
  t.equal(seen.suppressed, true)
  t.equal(seen.activeSpan, false)
  t.equal(seen.unrecordedSpans, 0)
  t.same(otlp.exports, [])
})

t.test('a new trace left unsampled costs one decision, and its call says so', async (t) => {
  const otlp = await receiver(t)
  const seen = await runApp({
    OTEL_EXPORTER_OTLP_ENDPOINT: otlp.url,
    OTEL_TRACES_SAMPLER: 'parentbased_traceidratio',
    // A ratio no trace id falls under in practice, so the sampler says no.
    OTEL_TRACES_SAMPLER_ARG: '0.000000000001',
  })
  t.equal(seen.suppressed, false, 'the sampler decides: the request might have been recorded')
  t.equal(seen.unrecordedSpans, 1, "the request's span only: the call starts no span")
  t.match(
    seen.upstreamTraceparent,
    unsampledTraceparent,
    'the service behind is told the trace is not sampled, so it starts none',
  )
  t.same(otlp.exports, [])
})

t.test('OTEL_SDK_DISABLED=true starts nothing, even with an endpoint', async (t) => {
  const otlp = await receiver(t)
  const seen = await runApp({ OTEL_EXPORTER_OTLP_ENDPOINT: otlp.url, OTEL_SDK_DISABLED: 'true' })
  t.equal(seen.provider, 'NoopTracerProvider')
  t.equal(seen.traceresponse, null, 'no trace, no traceresponse')
  t.same(otlp.exports, [], 'nothing was exported')
})

t.test('OTEL_TRACES_SAMPLER=always_off keeps the SDK but samples nothing', async (t) => {
  const otlp = await receiver(t)
  const seen = await runApp({
    OTEL_EXPORTER_OTLP_ENDPOINT: otlp.url,
    OTEL_TRACES_SAMPLER: 'always_off',
  })
  t.not(seen.provider, 'NoopTracerProvider')
  t.equal(seen.traceresponse, null, 'an unsampled request names no trace')
  t.same(otlp.exports, [], 'nothing was exported')
})

t.test('without an endpoint, tracing is off', async (t) => {
  const seen = await runApp({})
  t.equal(seen.provider, 'NoopTracerProvider')
  t.equal(seen.traceresponse, null)
})

t.test('a `node -e` health check in a traced container starts nothing', async (t) => {
  const otlp = await receiver(t)
  const child = spawn(
    process.execPath,
    [
      '--conditions=zt-source',
      '--import=tsx',
      '--import=./src/instrument.ts',
      '-e',
      "process.stdout.write(String(globalThis[Symbol.for('opentelemetry.js.api.1')]?.trace !== undefined))",
    ],
    {
      cwd: join(import.meta.dirname, '..'),
      env: { PATH: process.env.PATH ?? '', OTEL_EXPORTER_OTLP_ENDPOINT: otlp.url },
    },
  )
  let out = ''
  child.stdout.on('data', (chunk: Buffer) => (out += chunk))
  t.equal(await new Promise((resolve) => child.on('exit', resolve)), 0)
  t.equal(out, 'false', 'no tracer provider was registered')
})
