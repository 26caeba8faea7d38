import { spawn } from 'node:child_process'
import { createServer } from 'node:http'
import { join } from 'node:path'
import t, { type Test } from 'tap'

interface Exported {
  resourceSpans: {
    resource: { attributes: { key: string; value: { stringValue?: string } }[] }
    scopeSpans: {
      spans: {
        traceId: string
        spanId: string
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
  return JSON.parse(out) as { traceresponse: string | null; provider: string }
}

t.test('with an endpoint, spans are exported and the response names its trace', async (t) => {
  const otlp = await receiver(t)
  const seen = await runApp({
    OTEL_EXPORTER_OTLP_ENDPOINT: otlp.url,
    OTEL_SERVICE_NAME: 'probe',
  })
  t.not(seen.provider, 'NoopTracerProvider', 'the SDK is the provider')
  const match = /^00-([0-9a-f]{32})-([0-9a-f]{16})-01$/.exec(seen.traceresponse ?? '')
  t.ok(match, `traceresponse: ${seen.traceresponse}`)
  const spans = otlp.exports.flatMap((e) =>
    e.resourceSpans.flatMap((r) => {
      const service = r.resource.attributes.find((a) => a.key === 'service.name')?.value.stringValue
      return r.scopeSpans.flatMap((s) => s.spans.map((span) => ({ service, ...span })))
    }),
  )
  const server = spans.find((span) => span.spanId === match?.[2])
  t.equal(server?.traceId, match?.[1], 'the header names the exported server span')
  t.equal(server?.service, 'probe', 'named by OTEL_SERVICE_NAME')
  t.same(
    spans.map((span) => span.name).sort(),
    ['GET', 'request'],
    "undici's client span and the server's request span: none per hook or handler, which cost more than the request",
  )
  const text = JSON.stringify(spans)
  t.ok(text.includes('/hello'), 'paths are kept')
  t.notOk(text.includes('s3cr3t'), 'no span keeps the query string')
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
