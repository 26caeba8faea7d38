import type { UrlPage, UrlRecord } from '@zt/contracts'
import { HttpProblem } from '@zt/service-kit'
import { randomCode } from './codes.js'
import { type Cursor, encodeCursor } from './cursor.js'
import type { Database } from './db/database.js'
import { createdEvent } from './events/event.js'
import { outboxInsert } from './events/outbox.js'

interface UrlRow {
  code: string
  url: string
  created_at: Date
  created_us: string
  expires_at: Date | null
  clicks: string
  last_clicked_at: Date | null
}

// created_us is created_at as exact epoch microseconds: a JS Date keeps only
// milliseconds, which would skip or repeat rows at a page boundary.
const columns = `code, url, created_at, expires_at, clicks, last_clicked_at,
  ((extract(epoch from created_at) * 1000000)::bigint)::text AS created_us`

function toRecord(row: UrlRow): UrlRecord {
  return {
    code: row.code,
    url: row.url,
    createdAt: row.created_at.toISOString(),
    expiresAt: row.expires_at?.toISOString() ?? null,
    clicks: Number(row.clicks),
    lastClickedAt: row.last_clicked_at?.toISOString() ?? null,
  }
}

export interface NewUrl {
  url: string
  alias?: string | undefined
  expiresAt?: Date | undefined
}

export type Resolution =
  | { status: 'found'; url: string }
  | { status: 'missing' }
  | { status: 'expired' }

/** Every SQL statement of the service, behind plain functions. */
export class UrlStore {
  constructor(
    private readonly db: Pick<Database, 'query'>,
    private readonly codeLength: number,
  ) {}

  /** Inserts with the alias, or with fresh random codes until one is free. */
  async create(input: NewUrl): Promise<UrlRecord> {
    const attempts = input.alias ? 1 : 5
    for (let attempt = 0; attempt < attempts; attempt++) {
      const code = input.alias ?? randomCode(this.codeLength)
      // One statement: the url.created event commits with the row or not at all.
      const { rows } = await this.db.query<UrlRow>(
        `WITH inserted AS (
           INSERT INTO urls (code, url, expires_at) VALUES ($1, $2, $3)
           ON CONFLICT (code) DO NOTHING RETURNING ${columns}
         ), event AS (${outboxInsert(4, 'inserted')})
         SELECT * FROM inserted`,
        [code, input.url, input.expiresAt ?? null, JSON.stringify(createdEvent({ code }))],
      )
      const row = rows[0]
      if (row) return toRecord(row)
    }
    if (input.alias) {
      throw new HttpProblem(409, `the alias "${input.alias}" is already taken`, {
        errors: [{ field: 'body.alias', message: 'is already taken' }],
      })
    }
    throw new Error('no free short code after 5 attempts')
  }

  async get(code: string): Promise<UrlRecord | undefined> {
    const { rows } = await this.db.query<UrlRow>(`SELECT ${columns} FROM urls WHERE code = $1`, [
      code,
    ])
    return rows[0] ? toRecord(rows[0]) : undefined
  }

  /** Newest first; keyset pagination on (created_at, code) uses urls_created_at_code_idx. */
  async list(limit: number, after: Cursor | undefined): Promise<UrlPage> {
    const { rows } = after
      ? await this.db.query<UrlRow>(
          `SELECT ${columns} FROM urls
           WHERE (created_at, code) < (timestamptz 'epoch' + $1::bigint * interval '1 microsecond', $2)
           ORDER BY created_at DESC, code DESC LIMIT $3`,
          [after.createdAtMicros, after.code, limit + 1],
        )
      : await this.db.query<UrlRow>(
          `SELECT ${columns} FROM urls ORDER BY created_at DESC, code DESC LIMIT $1`,
          [limit + 1],
        )
    const page = rows.slice(0, limit)
    const last = page.at(-1)
    return {
      items: page.map(toRecord),
      nextCursor:
        rows.length > limit && last
          ? encodeCursor({ createdAtMicros: last.created_us, code: last.code })
          : null,
    }
  }

  /** Expiry is judged by the database clock, the same one that stamped created_at. */
  async resolve(code: string): Promise<Resolution> {
    const { rows } = await this.db.query<{ url: string; expired: boolean }>(
      `SELECT url, (expires_at IS NOT NULL AND expires_at <= now()) AS expired
       FROM urls WHERE code = $1`,
      [code],
    )
    const row = rows[0]
    if (!row) return { status: 'missing' }
    return row.expired ? { status: 'expired' } : { status: 'found', url: row.url }
  }
}
