import type { UrlRecord } from '@zt/contracts'
import { HttpProblem } from '@zt/service-kit'
import type { CallContext, UrlServiceClient } from '../../src/url-service-client.js'

/**
 * An in-memory UrlServiceClient for route tests: it records what the gateway
 * sent. What url-service answers (conflicts, expiry, its field errors) is
 * asserted on the real service in mtls.test.ts, never on wording made up here.
 */
export class FakeUrlService implements UrlServiceClient {
  readonly records = new Map<string, UrlRecord>()
  readonly calls: { operation: string; ctx: CallContext; input?: unknown }[] = []
  private next = 0

  private track(operation: string, ctx: CallContext, input?: unknown): void {
    this.calls.push({ operation, ctx, input })
  }

  async create(
    input: { url: string; alias?: string; expiresAt?: Date },
    ctx: CallContext,
  ): Promise<UrlRecord> {
    this.track('create', ctx, input)
    const code = input.alias ?? `c${String(this.next++).padStart(6, '0')}`
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
    record.clicks += 1
    return { url: record.url }
  }

  async ping(): Promise<void> {}
}
