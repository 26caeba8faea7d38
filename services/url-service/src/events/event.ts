import { randomUUID } from 'node:crypto'
import { Code } from '@zt/contracts'
import { z } from 'zod'

/**
 * Browser families a click is reduced to. A full user agent string is close
 * to a fingerprint; the family is what a click counter needs.
 */
export const userAgentFamilies = ['chrome', 'firefox', 'safari', 'edge', 'bot', 'other'] as const
export type UserAgentFamily = (typeof userAgentFamilies)[number]

const timestamp = z.iso.datetime({ offset: true })

// z.object (not strictObject): a producer may add optional fields within
// version 1 without breaking consumers that do not know them yet.
const common = {
  version: z.literal(1),
  id: z.uuid(),
  code: Code,
  occurredAt: timestamp,
}

export const UrlCreatedEvent = z.object({ ...common, type: z.literal('url.created') })
export type UrlCreatedEvent = z.infer<typeof UrlCreatedEvent>

export const UrlClickedEvent = z.object({
  ...common,
  type: z.literal('url.clicked'),
  referrerHost: z.string().max(253).nullable(),
  userAgentFamily: z.enum(userAgentFamilies),
})
export type UrlClickedEvent = z.infer<typeof UrlClickedEvent>

/** Every event url-service publishes, as the worker validates it. */
export const UrlEvent = z.discriminatedUnion('type', [UrlCreatedEvent, UrlClickedEvent])
export type UrlEvent = z.infer<typeof UrlEvent>
export type UrlEventType = UrlEvent['type']

// Order matters: Edge and Opera also say "Chrome", Chrome also says "Safari",
// and many crawlers say "Mozilla" and a browser name.
const familyRules: ReadonlyArray<readonly [RegExp, UserAgentFamily]> = [
  [/bot\b|crawl|spider|slurp|curl\/|wget\/|python|go-http-client|headless|preview/i, 'bot'],
  [/\bEdg(e|A|iOS)?\//, 'edge'],
  [/\bOPR\/|SamsungBrowser\//, 'other'],
  [/\bChrome\/|\bCriOS\//, 'chrome'],
  [/\bFirefox\/|\bFxiOS\//, 'firefox'],
  [/\bVersion\/[\d.]+.*\bSafari\//, 'safari'],
]

export function userAgentFamily(userAgent: string | undefined): UserAgentFamily {
  if (!userAgent) return 'other'
  for (const [pattern, family] of familyRules) if (pattern.test(userAgent)) return family
  return 'other'
}

/** The referrer's host only: paths and queries of the referring page are not ours to keep. */
export function referrerHost(referrer: string | undefined): string | null {
  if (!referrer) return null
  try {
    const url = new URL(referrer)
    if (url.protocol !== 'http:' && url.protocol !== 'https:') return null
    return url.hostname.length > 0 && url.hostname.length <= 253 ? url.hostname : null
  } catch {
    return null
  }
}

export interface ClickInput {
  code: string
  /** The raw Referer header the gateway forwarded, if any. */
  referrer?: string | undefined
  /** The raw User-Agent header the gateway forwarded, if any. */
  userAgent?: string | undefined
  occurredAt?: Date
}

export function clickedEvent(input: ClickInput): UrlClickedEvent {
  return {
    version: 1,
    id: randomUUID(),
    type: 'url.clicked',
    code: input.code,
    occurredAt: (input.occurredAt ?? new Date()).toISOString(),
    referrerHost: referrerHost(input.referrer),
    userAgentFamily: userAgentFamily(input.userAgent),
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
