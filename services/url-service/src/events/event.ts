import { randomUUID } from 'node:crypto'
import { Code } from '@zt/contracts'
import { z } from 'zod'

const timestamp = z.iso.datetime({ offset: true })

// z.object (not strictObject): a producer may add optional fields within a
// version without breaking consumers that do not know them yet.
const common = {
  version: z.literal(1),
  id: z.uuid(),
  code: Code,
  occurredAt: timestamp,
}

export const UrlCreatedEvent = z.object({ ...common, type: z.literal('url.created') })
export type UrlCreatedEvent = z.infer<typeof UrlCreatedEvent>

/**
 * Version 1 of a click: one event per redirect. No longer produced; the
 * worker still reads it so that events written before the producer moved to
 * version 2 are counted (docs/events.md, "Changing the schema").
 */
export const UrlClickedEvent = z.object({
  ...common,
  type: z.literal('url.clicked'),
  referrerHost: z.string().max(253).nullable(),
  userAgentFamily: z.enum(['chrome', 'firefox', 'safari', 'edge', 'bot', 'other']),
})
export type UrlClickedEvent = z.infer<typeof UrlClickedEvent>

/** A redirect batch closes at this many visits, so its row names at most this many codes. */
export const clickBatchMaxVisits = 64
/**
 * The relay merges rows into one event up to this many codes: about 130 KB
 * at the longest codes, well under SQS's 256 KiB.
 */
export const maxCodesPerEvent = 1024

/**
 * The requests behind an event, as W3C traceparents, so the worker's span can
 * link to their traces; a few are enough to find the way back.
 */
export const maxTracesPerEvent = 8
const traces = z
  .array(z.string().regex(/^00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$/))
  .max(maxTracesPerEvent)
  .optional()

export const ClickCount = z.object({
  code: Code,
  count: z.int().positive(),
  lastClickedAt: timestamp,
})
export type ClickCount = z.infer<typeof ClickCount>

/** Version 2 of clicks: counts per code, for many redirects at once. */
export const UrlClicksEvent = z.object({
  version: z.literal(2),
  id: z.uuid(),
  type: z.literal('url.clicks'),
  traces,
  clicks: z
    .array(ClickCount)
    .min(1)
    .max(maxCodesPerEvent)
    // The worker dedupes redelivered copies per (event, code); one count per code keeps that exact.
    .refine((clicks) => new Set(clicks.map((c) => c.code)).size === clicks.length, {
      message: 'names a code twice',
    }),
})
export type UrlClicksEvent = z.infer<typeof UrlClicksEvent>

/** Every event the worker accepts, as it validates them. */
export const UrlEvent = z.discriminatedUnion('type', [
  UrlCreatedEvent,
  UrlClickedEvent,
  UrlClicksEvent,
])
export type UrlEvent = z.infer<typeof UrlEvent>
export type UrlEventType = UrlEvent['type']

export function clicksEvent(clicks: ClickCount[], traces: string[] = []): UrlClicksEvent {
  return {
    version: 2,
    id: randomUUID(),
    type: 'url.clicks',
    ...(traces.length > 0 ? { traces: traces.slice(0, maxTracesPerEvent) } : {}),
    clicks,
  }
}

export function createdEvent(input: { code: string; occurredAt?: Date }): UrlCreatedEvent {
  return {
    version: 1,
    id: randomUUID(),
    type: 'url.created',
    code: input.code,
    occurredAt: (input.occurredAt ?? new Date()).toISOString(),
  }
}
