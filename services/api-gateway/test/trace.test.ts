import type * as Crypto from 'node:crypto'
import t from 'tap'
import type * as Trace from '../src/trace.js'

const valid = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01'

t.test('a well-formed traceparent continues; anything else gets a fresh one', async (t) => {
  const { traceparentFor } = await import('../src/trace.js')
  t.equal(traceparentFor(valid), valid)
  t.equal(traceparentFor(` ${valid} `), valid)
  for (const bad of [
    undefined,
    [valid, valid],
    '00-zz-bad-01',
    `00-${'0'.repeat(32)}-00f067aa0ba902b7-01`,
    `00-4bf92f3577b34da6a3ce929d0e0e4736-${'0'.repeat(16)}-01`,
  ]) {
    t.match(traceparentFor(bad), /^00-[0-9a-f]{32}-[0-9a-f]{16}-00$/, String(bad))
  }
})

t.test('fresh trace ids are unique and drawn from the CSPRNG in batches', async (t) => {
  const crypto = await import('node:crypto')
  let draws = 0
  const counted = (name: 'randomBytes' | 'randomFillSync') =>
    ((...args: unknown[]) => {
      draws++
      return (crypto[name] as (...a: unknown[]) => unknown)(...args)
    }) as never
  const { traceparentFor } = await t.mockImport<typeof Trace>('../src/trace.js', {
    'node:crypto': {
      ...crypto,
      randomBytes: counted('randomBytes'),
      randomFillSync: counted('randomFillSync'),
    } satisfies typeof Crypto,
  })
  const seen = new Set<string>()
  for (let i = 0; i < 300; i++) seen.add(traceparentFor(undefined))
  t.equal(seen.size, 300, 'no id repeats')
  const traceIds = new Set([...seen].map((v) => v.slice(3, 35)))
  t.equal(traceIds.size, 300)
  // Two randomBytes calls per request were 2% of the gateway's CPU under load.
  t.ok(draws <= 3, `${draws} draws for 300 ids`)
})
