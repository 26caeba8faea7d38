import t from 'tap'
import { openDatabase, type Queryable } from '../../src/db/database.js'
import { UrlEvent } from '../../src/events/event.js'
import { outboxVisitRecorder, recordClicks } from '../../src/events/outbox.js'
import { UrlStore } from '../../src/store.js'
import type { Visit } from '../../src/visits.js'
import { migratedDatabase, silent } from '../helpers/setup.js'
import { count } from './harness.js'

t.test('outbox writes', async (t) => {
  const { db, config } = await migratedDatabase(t, 3)

  const outboxRows = async () => {
    const { rows } = await db.query<{ payload: unknown; sealed: boolean }>(
      'select payload, sealed from event_outbox order by seq',
    )
    return rows.map((row) => ({ event: UrlEvent.parse(row.payload), sealed: row.sealed }))
  }

  /** The database, except that the first statement waits until `open()`: an insert held in flight. */
  const holdFirstInsert = () => {
    const gate = Promise.withResolvers<void>()
    let calls = 0
    const held: Queryable = {
      query: async (text, values) => {
        calls += 1
        if (calls === 1) await gate.promise
        return db.query(text, values)
      },
    }
    return { db: held, open: () => gate.resolve() }
  }
  const nextTurn = () => new Promise((resolve) => setImmediate(resolve))
  const countsOf = (rows: Awaited<ReturnType<typeof outboxRows>>) =>
    rows.map((row) =>
      row.event.type === 'url.clicks' ? row.event.clicks.reduce((n, c) => n + c.count, 0) : 0,
    )

  t.test('visits of one turn share one batch: one unsealed row of counts per code', async (t) => {
    await db.query('truncate event_outbox')
    const recorder = outboxVisitRecorder(db)
    const visit = (code: string, at: string): Visit => ({ code, at: new Date(at) })
    await Promise.all([
      recorder.record(visit('abc', '2026-05-01T00:00:02Z')),
      recorder.record(visit('abc', '2026-05-01T00:00:03Z')),
      recorder.record(visit('xyz', '2026-05-01T00:00:01Z')),
      recorder.record(visit('abc', '2026-05-01T00:00:01Z')),
    ])
    const rows = await outboxRows()
    t.equal(rows.length, 1)
    t.equal(rows[0]?.sealed, false, 'for the relay to merge before it sends')
    t.match(rows[0]?.event, {
      version: 2,
      type: 'url.clicks',
      clicks: [
        { code: 'abc', count: 3, lastClickedAt: '2026-05-01T00:00:03.000Z' },
        { code: 'xyz', count: 1, lastClickedAt: '2026-05-01T00:00:01.000Z' },
      ],
    })
  })

  t.test('a visit is answered only once its batch committed', async (t) => {
    await db.query('truncate event_outbox')
    const held = holdFirstInsert()
    let recorded = false
    const pending = outboxVisitRecorder(held.db)
      .record({ code: 'abc', at: new Date() })
      .then(() => {
        recorded = true
      })
    await new Promise((resolve) => setTimeout(resolve, 50))
    t.notOk(recorded, 'still waiting for its insert')
    t.equal(await count(db, 'event_outbox'), 0, 'nothing written yet')
    held.open()
    await pending
    t.equal(await count(db, 'event_outbox'), 1, 'and its row is there when the visit returns')
  })

  t.test(
    'visits that arrive while an insert is in flight gather into the next batch',
    async (t) => {
      await db.query('truncate event_outbox')
      const held = holdFirstInsert()
      const recorder = outboxVisitRecorder(held.db)
      const first = recorder.record({ code: 'abc', at: new Date() })
      await nextTurn()
      const later = []
      for (let i = 0; i < 3; i++) {
        later.push(recorder.record({ code: 'abc', at: new Date() }))
        await nextTurn()
      }
      t.equal(await count(db, 'event_outbox'), 0, 'the later visits wait for the insert in flight')
      held.open()
      await Promise.all([first, ...later])
      t.same(countsOf(await outboxRows()), [1, 3], 'one insert for the three that waited')
    },
  )

  t.test('a batch closes at maxVisits even while an insert is in flight', async (t) => {
    await db.query('truncate event_outbox')
    const held = holdFirstInsert()
    const recorder = outboxVisitRecorder(held.db, { maxVisits: 3 })
    let firstDone = false
    const first = recorder.record({ code: 'abc', at: new Date() }).then(() => {
      firstDone = true
    })
    await nextTurn()
    const full = []
    for (let i = 0; i < 3; i++) {
      full.push(recorder.record({ code: 'abc', at: new Date() }))
      await nextTurn()
    }
    await Promise.all(full)
    t.notOk(firstDone, 'the full batch did not wait for the insert in flight')
    t.same(countsOf(await outboxRows()), [3])
    held.open()
    await first
    t.same(countsOf(await outboxRows()), [3, 1])
  })

  t.test('a failed insert fails every visit of its batch alike', async (t) => {
    await db.query('truncate event_outbox')
    // A pool that was closed refuses every statement, as a lost database would.
    const gone = await openDatabase(config, { logger: silent, max: 1 })
    await gone.close()
    const recorder = outboxVisitRecorder(gone)
    const outcomes = await Promise.allSettled([
      recorder.record({ code: 'abc', at: new Date() }),
      recorder.record({ code: 'xyz', at: new Date() }),
    ])
    t.same(
      outcomes.map((outcome) => outcome.status),
      ['rejected', 'rejected'],
    )
    const [first, second] = outcomes as PromiseRejectedResult[]
    t.equal(first?.reason, second?.reason, 'the same error for both')
    // The next batch is a new one: the failure does not stick.
    await outboxVisitRecorder(db).record({ code: 'abc', at: new Date() })
    t.equal(await count(db, 'event_outbox'), 1)
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
    const rows = await outboxRows()
    t.same(
      rows.map((row) => [
        row.event.type,
        row.event.type === 'url.created' && row.event.code,
        row.sealed,
      ]),
      [['url.created', 'kept', true]],
      'a complete event, sent as it is',
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

  t.test('click counts commit asynchronously without changing the session', async (t) => {
    await db.query('truncate event_outbox')
    const client = await db.connect()
    try {
      await recordClicks(client, [
        { code: 'abc', count: 1, lastClickedAt: new Date().toISOString() },
      ])
      const { rows } = await client.query('show synchronous_commit')
      t.equal(rows[0]?.synchronous_commit, 'on', 'the setting ended with its statement')
    } finally {
      client.release()
    }
    t.equal(await count(db, 'event_outbox'), 1, 'and the row is committed')
  })
})
