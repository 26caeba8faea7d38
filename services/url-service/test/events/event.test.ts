import t from 'tap'
import { clicksEvent, createdEvent, UrlEvent } from '../../src/events/event.js'
import { v1Click } from './harness.js'

const at = '2026-01-02T03:04:05.000Z'

t.test('a url.clicks event carries counts per code and nothing about a visitor', async (t) => {
  const event = clicksEvent([
    { code: 'abc123', count: 3, lastClickedAt: at },
    { code: 'xyz', count: 1, lastClickedAt: at },
  ])
  t.match(event, { version: 2, type: 'url.clicks' })
  t.match(event.id, /^[0-9a-f-]{36}$/)
  t.same(Object.keys(event).sort(), ['clicks', 'id', 'type', 'version'])
  t.same(Object.keys(event.clicks[0] ?? {}).sort(), ['code', 'count', 'lastClickedAt'])
  t.ok(UrlEvent.safeParse(event).success)
})

t.test('the schema accepts what either producer version writes and rejects the rest', async (t) => {
  t.ok(UrlEvent.safeParse(createdEvent({ code: 'abc' })).success, 'url.created, version 1')
  t.ok(UrlEvent.safeParse(v1Click('abc')).success, 'url.clicked, version 1')
  const good = createdEvent({ code: 'abc' })
  t.ok(
    UrlEvent.safeParse({ ...good, addedLater: true }).success,
    'unknown fields within a version are tolerated',
  )
  t.notOk(UrlEvent.safeParse({ ...good, version: 2 }).success, 'url.created is version 1')
  t.notOk(UrlEvent.safeParse({ ...v1Click('abc'), version: 2 }).success, 'url.clicked is version 1')
  t.notOk(UrlEvent.safeParse({ ...good, id: 'not-a-uuid' }).success, 'bad id')
  t.notOk(UrlEvent.safeParse({ ...good, type: 'url.deleted' }).success, 'unknown type')
  t.notOk(UrlEvent.safeParse({ ...good, code: '../etc' }).success, 'bad code')
  t.notOk(
    UrlEvent.safeParse({ ...v1Click('abc'), userAgentFamily: 'Mozilla/5.0' }).success,
    'a raw user agent in version 1',
  )

  const clicks = clicksEvent([{ code: 'abc', count: 1, lastClickedAt: at }])
  const withClicks = (list: unknown) => UrlEvent.safeParse({ ...clicks, clicks: list }).success
  t.notOk(UrlEvent.safeParse({ ...clicks, version: 1 }).success, 'url.clicks is version 2')
  t.notOk(withClicks([]), 'no codes')
  t.notOk(withClicks([{ code: 'abc', count: 0, lastClickedAt: at }]), 'a zero count')
  t.notOk(withClicks([{ code: 'abc', count: 1.5, lastClickedAt: at }]), 'a fractional count')
  t.notOk(withClicks([{ code: '../x', count: 1, lastClickedAt: at }]), 'a bad code')
  t.notOk(withClicks([{ code: 'abc', count: 1, lastClickedAt: 'yesterday' }]), 'a bad time')
  t.notOk(
    withClicks([
      { code: 'abc', count: 1, lastClickedAt: at },
      { code: 'abc', count: 2, lastClickedAt: at },
    ]),
    'a code named twice',
  )
  const many = Array.from({ length: 1025 }, (_, i) => ({
    code: `c${i}`,
    count: 1,
    lastClickedAt: at,
  }))
  t.notOk(withClicks(many), 'more codes than a merge can produce')
  t.ok(withClicks(many.slice(1)), 'as many as a merge can produce')
})

t.test('a url.clicks event carries at most eight well-formed trace contexts', async (t) => {
  const traceparent = (i: number) => `00-${'a'.repeat(31)}${i.toString(16)}-${'b'.repeat(16)}-01`
  const clicks = [{ code: 'abc', count: 1, lastClickedAt: at }]
  const ten = Array.from({ length: 10 }, (_, i) => traceparent(i))
  const event = clicksEvent(clicks, ten)
  t.same(event.traces, ten.slice(0, 8), 'the first eight are kept')
  t.ok(UrlEvent.safeParse(event).success)
  t.notOk('traces' in clicksEvent(clicks), 'none, no field')
  t.notOk(UrlEvent.safeParse({ ...event, traces: ten }).success, 'more than eight')
  t.notOk(UrlEvent.safeParse({ ...event, traces: ['00-xyz-abc-01'] }).success, 'not a traceparent')
})
