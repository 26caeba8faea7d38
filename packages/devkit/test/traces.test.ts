import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { parseOtlpLines } from '../src/otlp-json.js'
import { startOtlpReceiver } from '../src/otlp-receiver.js'
import { freePort } from '../src/postgres.js'
import { formatTraces } from '../src/trace-tree.js'

const trace = 'a'.repeat(32)
const span = (spanId: string, parentSpanId: string, name: string, ms: number, extra = {}) => ({
  traceId: trace,
  spanId,
  parentSpanId,
  name,
  startTimeUnixNano: '1000000000',
  endTimeUnixNano: String(1_000_000_000 + ms * 1_000_000),
  ...extra,
})
const exported = (service: string, spans: object[]) => ({
  resourceSpans: [
    {
      resource: { attributes: [{ key: 'service.name', value: { stringValue: service } }] },
      scopeSpans: [{ spans }],
    },
  ],
})

t.test('the receiver appends each OTLP JSON export as one line and refuses the rest', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'zt-otlp-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const file = join(dir, 'traces.jsonl')
  const receiver = await startOtlpReceiver({ port: await freePort(), file })
  t.teardown(() => receiver.close())
  const post = (path: string, type: string, body: string) =>
    fetch(`${receiver.url}${path}`, { method: 'POST', headers: { 'content-type': type }, body })

  const body = exported('frontend', [span('1'.repeat(16), '', 'request', 3)])
  t.equal((await post('/v1/traces', 'application/json', JSON.stringify(body, null, 2))).status, 200)
  t.equal((await post('/v1/traces', 'application/x-protobuf', 'x')).status, 415, 'JSON only')
  t.equal((await post('/v1/metrics', 'application/json', '{}')).status, 404, 'traces only')
  t.equal((await post('/v1/traces', 'application/json', '{no')).status, 400, 'bad JSON')
  const lines = (await readFile(file, 'utf8')).split('\n').filter(Boolean)
  t.same(
    lines.map((line) => JSON.parse(line)),
    [body],
    'one line, the export unchanged',
  )
})

t.test('traces print as trees with service, duration, peer and links', async (t) => {
  const lines = [
    exported('frontend', [span('1'.repeat(16), '', 'request', 12.5)]),
    exported('api-gateway', [
      span('2'.repeat(16), '1'.repeat(16), 'POST', 4, {
        attributes: [
          {
            key: 'spiffe.peer.id',
            value: { stringValue: 'spiffe://zt.local/ns/services/sa/url-service' },
          },
        ],
      }),
    ]),
    exported('worker', [
      {
        ...span('3'.repeat(16), '', 'process url events', 1),
        traceId: 'b'.repeat(32),
        links: [{ traceId: trace, spanId: '2'.repeat(16) }],
      },
    ]),
  ].map((line) => JSON.stringify(line))
  const spans = parseOtlpLines(lines.join('\n'))
  t.equal(spans.length, 3)
  t.equal(
    formatTraces(spans, 5),
    [
      `trace ${trace}`,
      '  frontend  request  12.5 ms',
      '    api-gateway  POST  4.0 ms  peer spiffe://zt.local/ns/services/sa/url-service',
      `trace ${'b'.repeat(32)}`,
      `  worker  process url events  1.0 ms  links ${trace}`,
    ].join('\n'),
  )
  t.equal(formatTraces(spans, 1).split('\n')[0], `trace ${'b'.repeat(32)}`, 'the latest only')
})
