import { chmod, mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import t, { type Test } from 'tap'
import { type ExportedSpan, parseOtlpLines } from '../../src/otlp-json.js'
import { randomPorts, type Stack, type StackOptions, startStack } from '../../src/stack/stack.js'
import { formatTraces } from '../../src/trace-tree.js'

// A whole stack starts here: more than the default 30 s on a busy machine.
t.setTimeout(180_000)

const root = resolve(import.meta.dirname, '../../../..')
const traceresponse = /^00-([0-9a-f]{32})-([0-9a-f]{16})-01$/

/** The spans of one trace (or all, without an id) once `until` holds or 20 s passed. */
async function spansOf(
  file: string,
  traceId: string | undefined,
  until: (spans: ExportedSpan[]) => boolean,
) {
  const deadline = Date.now() + 20_000
  for (;;) {
    const text = await readFile(file, 'utf8').catch(() => '')
    const spans = parseOtlpLines(text).filter(
      (span) => traceId === undefined || span.traceId === traceId,
    )
    if (until(spans) || Date.now() > deadline) return spans
    await new Promise((r) => setTimeout(r, 250))
  }
}

/** A stack with tracing on, stopped and its state removed when the test ends. */
async function tracedStack(t: Test, env: StackOptions['env']) {
  const stateDir = await mkdtemp(join(tmpdir(), 'zt-traces-'))
  // embedded PostgreSQL initialises its data as another user when run as root.
  await chmod(stateDir, 0o755)
  const stack = await startStack({
    root,
    stateDir,
    ports: await randomPorts(),
    tracing: true,
    ...(env ? { env } : {}),
    output: () => undefined,
  })
  t.teardown(async () => {
    await stack.stop()
    await rm(stateDir, { recursive: true, force: true })
  })
  return stack
}

/** A short link made through the frontend; its code. */
async function shorten(t: Test, stack: Stack, url: string): Promise<string> {
  const created = await fetch(`${stack.frontendUrl}/api/urls`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ url }),
  })
  t.equal(created.status, 201)
  return ((await created.json()) as { code: string }).code
}

t.test(
  'one redirect is one trace across frontend, gateway, url-service and PostgreSQL',
  async (t) => {
    const stack = await tracedStack(t, { frontend: { OTEL_BSP_SCHEDULE_DELAY: '100' } })
    const code = await shorten(t, stack, 'https://example.com/traced')

    // A client's own trace context, sampled: the public edge must not adopt it.
    const chosen = '4bf92f3577b34da6a3ce929d0e0e4736'
    const redirect = await fetch(`${stack.frontendUrl}/r/${code}`, {
      redirect: 'manual',
      headers: { traceparent: `00-${chosen}-00f067aa0ba902b7-01` },
    })
    t.equal(redirect.status, 302)
    const header = redirect.headers.get('traceresponse') ?? ''
    const match = traceresponse.exec(header)
    t.ok(match, `traceresponse is W3C level 2: ${header}`)
    const [, traceId, spanId] = match ?? []
    t.not(traceId, chosen, 'a trace id sent from the internet is not adopted')

    const services = ['frontend', 'api-gateway', 'url-service']
    const spans = await spansOf(
      stack.tracesFile,
      traceId as string,
      (all) =>
        services.every((name) => all.some((span) => span.service === name)) &&
        all.some((span) => span.name.startsWith('pg')),
    )
    t.same(
      [...new Set(spans.map((span) => span.service))].sort(),
      [...services].sort(),
      'every hop is in the one trace',
    )
    t.ok(
      spans.some(
        (span) => span.service === 'frontend' && span.spanId === spanId && span.parentSpanId === '',
      ),
      'the traceresponse names the frontend server span, the root',
      { tree: formatTraces(spans, 1) },
    )
    t.ok(
      spans.some((span) => span.service === 'url-service' && span.name.startsWith('pg')),
      'url-service recorded its PostgreSQL query',
    )
    const gateway = `spiffe://${stack.trustDomain}/ns/services/sa/api-gateway`
    const urlService = `spiffe://${stack.trustDomain}/ns/services/sa/url-service`
    t.ok(
      spans.some(
        (span) =>
          span.service === 'api-gateway' &&
          span.attributes['spiffe.id'] === gateway &&
          span.attributes['spiffe.peer.id'] === urlService,
      ),
      "the gateway's client span names both ends of the mTLS hop",
    )
    t.ok(
      spans.some(
        (span) =>
          span.service === 'url-service' &&
          span.attributes['spiffe.id'] === urlService &&
          span.attributes['spiffe.peer.id'] === gateway,
      ),
      "url-service's server span names both ends of the mTLS hop",
    )

    // The click reaches the worker through the outbox and SQS, merged with
    // others: its processing span is in a trace of its own, linked to ours.
    const worker = await spansOf(stack.tracesFile, undefined, (all) =>
      all.some((span) => span.links.some((link) => link.traceId === traceId)),
    )
    t.ok(
      worker.some(
        (span) =>
          span.service === 'worker' &&
          span.name === 'process url events' &&
          span.links.some((link) => link.traceId === traceId),
      ),
      "the worker's processing span links to the redirect's trace",
    )

    // The gateway's own public answers name their trace too.
    const direct = await fetch(`${stack.apiGatewayUrl}/r/${code}`, { redirect: 'manual' })
    t.equal(direct.status, 302)
    const [, gatewayTrace, gatewaySpan] =
      traceresponse.exec(direct.headers.get('traceresponse') ?? '') ?? []
    const gatewaySpans = await spansOf(stack.tracesFile, gatewayTrace as string, (all) =>
      all.some((span) => span.spanId === gatewaySpan),
    )
    t.ok(
      gatewaySpans.some(
        (span) =>
          span.service === 'api-gateway' && span.spanId === gatewaySpan && span.parentSpanId === '',
      ),
      "the gateway's traceresponse names its exported server span",
    )

    // A query string must not reach any span, whatever it carries.
    const listed = await fetch(`${stack.frontendUrl}/api/urls?limit=7`)
    t.equal(listed.status, 200)
    const listTrace = traceresponse.exec(listed.headers.get('traceresponse') ?? '')?.[1] as string
    const listSpans = await spansOf(stack.tracesFile, listTrace, (s) =>
      s.some((span) => span.service === 'url-service'),
    )
    t.ok(listSpans.length > 0, 'the list call was traced')
    const values = [...spans, ...listSpans].flatMap((span) =>
      Object.values(span.attributes).map(String),
    )
    t.notOk(
      values.some((value) => value.includes('limit=7')),
      'no attribute keeps the query string',
    )
    t.notOk(
      values.some((value) => /password|secret/i.test(value)),
      'no attribute names a password or secret',
    )

    // Background work is not a trace of its own: the relay's and the
    // worker's database polls, the frontend's readiness probe of the gateway.
    const all = parseOtlpLines(await readFile(stack.tracesFile, 'utf8'))
    t.notOk(
      all.some((span) => span.name.startsWith('pg') && span.parentSpanId === ''),
      'no database span without a parent',
    )
    t.notOk(
      all.some((span) =>
        Object.values(span.attributes).some((v) => String(v).includes('openapi.json')),
      ),
      'no readiness probe traced',
    )
  },
)

t.test(
  'a redirect the edge leaves unsampled is traced nowhere, though the services behind it would start traces',
  async (t) => {
    const fast = { OTEL_BSP_SCHEDULE_DELAY: '100' }
    const stack = await tracedStack(t, {
      // A ratio no trace id falls under in practice: the edge samples nothing.
      frontend: {
        ...fast,
        OTEL_TRACES_SAMPLER: 'parentbased_traceidratio',
        OTEL_TRACES_SAMPLER_ARG: '0.000000000001',
      },
      // pnpm dev's default, parentbased_always_on: a request that reached
      // them without word that its trace is unsampled would be recorded.
      'api-gateway': fast,
      'url-service': fast,
    })
    const code = await shorten(t, stack, 'https://example.com/unsampled')
    for (let i = 0; i < 3; i++) {
      const redirect = await fetch(`${stack.frontendUrl}/r/${code}`, { redirect: 'manual' })
      t.equal(redirect.status, 302)
      t.equal(redirect.headers.get('traceresponse'), null, 'no trace to name')
    }

    // The same redirect sent to the gateway directly starts a trace there;
    // once it is exported, anything the calls above recorded would be too.
    const direct = await fetch(`${stack.apiGatewayUrl}/r/${code}`, { redirect: 'manual' })
    const directTrace = traceresponse.exec(direct.headers.get('traceresponse') ?? '')?.[1]
    t.ok(directTrace, 'the gateway records a request that comes without trace context')
    const spans = await spansOf(stack.tracesFile, undefined, (all) =>
      ['api-gateway', 'url-service'].every((name) =>
        all.some((span) => span.traceId === directTrace && span.service === name),
      ),
    )
    const requests = spans.filter(
      (span) =>
        span.traceId !== directTrace &&
        ['frontend', 'api-gateway', 'url-service'].includes(span.service) &&
        (span.name === 'request' || /^(GET|POST|pg)/.test(span.name)),
    )
    t.same(
      requests.map((span) => `${span.service} ${span.name}`),
      [],
      'the edge told each service behind it that the trace is not sampled',
    )
  },
)
