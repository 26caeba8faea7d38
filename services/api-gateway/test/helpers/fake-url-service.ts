import type { UrlRecord } from '@zt/contracts'
import { HttpProblem } from '@zt/service-kit'
import type { CallContext, UrlServiceClient } from '../../src/url-service-client.js'

/** An in-memory UrlServiceClient for route tests; records what it was given. */
export class FakeUrlService implements UrlServiceClient {
  readonly records = new Map<string, UrlRecord>()
  readonly calls: { operation: string; ctx: CallContext; input?: unknown }[] = []
  private next = 0
  failWith: HttpProblem | undefined

  private track(operation: string, ctx: CallContext, input?: unknown): void {
    this.calls.push({ operation, ctx, input })
    if (this.failWith) throw this.failWith
  }

  async create(
    input: { url: string; alias?: string; expiresAt?: Date },
    ctx: CallContext,
  ): Promise<UrlRecord> {
    this.track('create', ctx, input)
    const code = input.alias ?? `c${String(this.next++).padStart(6, '0')}`
    if (this.records.has(code)) throw new HttpProblem(409, `the alias "${code}" is taken`)
    const record: UrlRecord = {
      code,
      url: input.url,
      createdAt: new Date().toISOString(),
      expiresAt: input.expiresAt?.toISOString() ?? null,
      clicks: 0,
      lastClickedAt: null,
    }
    this.records.set(code, record)
    return record
  }

  async get(code: string, ctx: CallContext): Promise<UrlRecord> {
    this.track('get', ctx, code)
    const record = this.records.get(code)
    if (!record) throw new HttpProblem(404, `no short link "${code}"`)
    return record
  }

  async list(query: { limit: number; cursor?: string }, ctx: CallContext) {
    this.track('list', ctx, query)
    const items = [...this.records.values()].reverse()
    const start = query.cursor ? Number(query.cursor) : 0
    const page = items.slice(start, start + query.limit)
    const end = start + page.length
    return { items: page, nextCursor: end < items.length ? String(end) : null }
  }

  async resolve(code: string, visit: { referrer?: string; userAgent?: string }, ctx: CallContext) {
    this.track('resolve', ctx, { code, ...visit })
    const record = this.records.get(code)
    if (!record) throw new HttpProblem(404, `no short link "${code}"`)
    if (record.expiresAt && Date.parse(record.expiresAt) <= Date.now()) {
      throw new HttpProblem(410, `the short link "${code}" has expired`)
    }
    record.clicks += 1
    return { url: record.url }
  }

  async ping(): Promise<void> {}
}
