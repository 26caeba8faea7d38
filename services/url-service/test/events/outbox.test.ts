import t from 'tap'
import { UrlEvent } from '../../src/events/event.js'
import { outboxVisitRecorder, recordClick } from '../../src/events/outbox.js'
import { UrlStore } from '../../src/store.js'
import { migratedDatabase } from '../helpers/setup.js'
import { count } from './harness.js'

t.test('outbox writes', async (t) => {
  const { db } = await migratedDatabase(t, 3)

  t.test('a click becomes one valid url.clicked row', async (t) => {
    await db.query('truncate event_outbox')
    await outboxVisitRecorder(db).record({
      code: 'abc',
      at: new Date('2026-05-01T00:00:00Z'),
      referrer: 'https://ref.example/path',
      userAgent: 'curl/8.5.0',
    })
    const { rows } = await db.query<{ payload: unknown }>('select payload from event_outbox')
    t.equal(rows.length, 1)
    const event = UrlEvent.parse(rows[0]?.payload)
    t.match(event, {
      type: 'url.clicked',
      code: 'abc',
      occurredAt: '2026-05-01T00:00:00.000Z',
      referrerHost: 'ref.example',
      userAgentFamily: 'bot',
    })
  })

  t.test('url.created commits and rolls back with the URL row', async (t) => {
    await db.query('truncate urls, event_outbox')
    const client = await db.connect()
    // The store on one client: its statement runs inside this transaction.
    const inTransaction = new UrlStore(client, 6)
    try {
      await client.query('begin')
      await inTransaction.create({ url: 'https://example.com/', alias: 'gone' })
      await client.query('rollback')
      await client.query('begin')
      await inTransaction.create({ url: 'https://example.com/', alias: 'kept' })
      await client.query('commit')
    } finally {
      client.release()
    }
    const { rows } = await db.query<{ payload: { code: string; type: string } }>(
      'select payload from event_outbox',
    )
    t.same(
      rows.map((row) => [row.payload.type, row.payload.code]),
      [['url.created', 'kept']],
    )
    const { rows: urls } = await db.query<{ code: string }>('select code from urls')
    t.same(
      urls.map((row) => row.code),
      ['kept'],
    )
  })

  t.test('a create that inserts no URL writes no event', async (t) => {
    await db.query('truncate urls, event_outbox')
    const store = new UrlStore(db, 6)
    await store.create({ url: 'https://example.com/', alias: 'taken' })
    await t.rejects(store.create({ url: 'https://example.org/', alias: 'taken' }), {
      name: 'HttpProblem',
      message: /already taken/,
    })
    t.equal(await count(db, 'event_outbox'), 1, 'only the first create wrote url.created')
  })

  t.test('a click commits asynchronously without changing the session', async (t) => {
    await db.query('truncate event_outbox')
    const client = await db.connect()
    try {
      await recordClick(client, { code: 'abc' })
      const { rows } = await client.query('show synchronous_commit')
      t.equal(rows[0]?.synchronous_commit, 'on', 'the setting ended with its statement')
    } finally {
      client.release()
    }
    t.equal(await count(db, 'event_outbox'), 1, 'and the row is committed')
  })

  t.test('each click has its own event id', async (t) => {
    await db.query('truncate event_outbox')
    for (let i = 0; i < 5; i++) await recordClick(db, { code: 'abc' })
    const { rows } = await db.query<{ n: number }>(
      "select count(distinct payload->>'id')::int as n from event_outbox",
    )
    t.equal(rows[0]?.n, 5)
    t.equal(await count(db, 'event_outbox'), 5)
  })
})
