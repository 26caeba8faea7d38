import { z } from 'zod'

export const maxUrlLength = 2048
export const aliasPattern = /^[A-Za-z0-9_-]{3,64}$/
/** Generated codes and aliases share one namespace and one path shape. */
export const codePattern = /^[A-Za-z0-9_-]{1,64}$/
export const generatedCodeLength = 7

/**
 * Words an alias may not take: the paths the gateway and frontend serve
 * themselves, and names that would mislead a reader of a short link.
 */
export const reservedAliases: ReadonlySet<string> = new Set(
  [
    'api',
    'r',
    'healthz',
    'readyz',
    'livez',
    'metrics',
    'openapi',
    'docs',
    'static',
    'assets',
    'public',
    'admin',
    'login',
    'logout',
    'signin',
    'signup',
    'account',
    'settings',
    'favicon',
    'robots',
    'well-known',
    'security',
    'support',
    'help',
    'null',
    'undefined',
  ].map((word) => word.toLowerCase()),
)

// Any C0 control, DEL, or whitespace. The WHATWG parser silently strips tabs
// and newlines inside a URL, so "https://exa\nmple.com" would otherwise pass
// validation as something other than what the caller sent.
const forbiddenCharacters =
  // biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
  /[\u0000-\u0020\u007f\u0085\u00a0\u1680\u2000-\u200f\u2028-\u202f\u205f\u2060\u3000\ufeff]/

// The WHATWG parser repairs a missing or empty authority for http(s):
// "https:example.com", "https:/example.com", "https:///example.com" and
// "https:\\example.com" all come out as https://example.com/. The scheme,
// "//" and a non-empty authority must be there as sent, so nothing is
// stored that the caller did not write.
const writtenAuthority = /^https?:\/\/([^/?#]*)/i

/** The part of a URL before its query or fragment. */
const beforeQuery = (value: string) => value.split(/[?#]/, 1)[0] ?? ''

/**
 * A link target: absolute http(s), a host, no userinfo, at most 2048
 * characters. Input the parser would have to repair (no "//", an empty
 * authority, a backslash for "/" before the query) is refused. A valid value is
 * normalized to the parser's serialization (case, default port, trailing
 * "/", percent-encoding), which is what the redirect will send.
 */
export const TargetUrl = z
  .string()
  .max(maxUrlLength, `must be at most ${maxUrlLength} characters`)
  .transform((value, ctx) => {
    if (forbiddenCharacters.test(value)) {
      ctx.addIssue({ code: 'custom', message: 'must not contain whitespace or control characters' })
      return z.NEVER
    }
    let parsed: URL
    try {
      parsed = new URL(value)
    } catch {
      ctx.addIssue({ code: 'custom', message: 'must be an absolute URL' })
      return z.NEVER
    }
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
      ctx.addIssue({ code: 'custom', message: 'must use http or https' })
      return z.NEVER
    }
    if (parsed.hostname === '') {
      ctx.addIssue({ code: 'custom', message: 'must have a host' })
      return z.NEVER
    }
    if (!writtenAuthority.exec(value)?.[1]) {
      ctx.addIssue({
        code: 'custom',
        message: 'must start with http:// or https:// followed by the host',
      })
      return z.NEVER
    }
    if (beforeQuery(value).includes('\\')) {
      ctx.addIssue({ code: 'custom', message: 'must use "/", not "\\", before the query' })
      return z.NEVER
    }
    if (parsed.username !== '' || parsed.password !== '' || /^[a-z]+:\/\/[^/?#]*@/i.test(value)) {
      ctx.addIssue({ code: 'custom', message: 'must not contain a user name or password' })
      return z.NEVER
    }
    if (parsed.href.length > maxUrlLength) {
      ctx.addIssue({
        code: 'custom',
        message: `must be at most ${maxUrlLength} characters once normalized`,
      })
      return z.NEVER
    }
    return parsed.href
  })

export const Alias = z
  .string()
  .regex(aliasPattern, 'must be 3 to 64 letters, digits, "_" or "-"')
  .refine((alias) => !reservedAliases.has(alias.toLowerCase()), 'is a reserved word')

export const Code = z.string().regex(codePattern, 'is not a valid code')

/** Expiry must lie in the future, and not absurdly far. */
export const ExpiresAt = z.iso
  .datetime({ offset: true })
  .transform((value) => new Date(value))
  .refine((date) => date.getTime() > Date.now(), 'must be in the future')
  .refine(
    (date) => date.getTime() < Date.now() + 10 * 366 * 24 * 3600 * 1000,
    'must be within ten years',
  )

export const CreateUrlRequest = z.strictObject({
  url: TargetUrl,
  alias: Alias.optional(),
  expiresAt: ExpiresAt.optional(),
})
export type CreateUrlRequest = z.output<typeof CreateUrlRequest>

export const CodeParams = z.strictObject({ code: Code })

export const ListQuery = z.strictObject({
  limit: z.coerce.number().int().min(1).max(100).default(20),
  cursor: z
    .string()
    .regex(/^[A-Za-z0-9_-]{1,200}$/, 'is not a valid cursor')
    .optional(),
})
export type ListQuery = z.output<typeof ListQuery>

const timestamp = z.iso.datetime({ offset: true })

/** A short URL as url-service stores and returns it. */
export const UrlRecord = z.object({
  code: z.string(),
  url: z.string(),
  createdAt: timestamp,
  expiresAt: timestamp.nullable(),
  clicks: z.number().int().nonnegative(),
  lastClickedAt: timestamp.nullable(),
})
export type UrlRecord = z.infer<typeof UrlRecord>

export const UrlPage = z.object({
  items: z.array(UrlRecord),
  nextCursor: z.string().nullable(),
})
export type UrlPage = z.infer<typeof UrlPage>

/** What the gateway answers on create: the record plus the link to share. */
export const CreatedUrl = z.object({
  code: z.string(),
  shortUrl: z.string(),
  url: z.string(),
  createdAt: timestamp,
  expiresAt: timestamp.nullable(),
})
export type CreatedUrl = z.infer<typeof CreatedUrl>

/**
 * What the gateway tells url-service about a visit. Raw values are bounded
 * here; url-service keeps neither since click events count per code only
 * (docs/events.md, "Per-visit fields").
 */
export const ResolveRequest = z.strictObject({
  referrer: z.string().max(maxUrlLength).optional(),
  userAgent: z.string().max(512).optional(),
})
export type ResolveRequest = z.output<typeof ResolveRequest>

export const ResolveResponse = z.object({ url: z.string() })
export type ResolveResponse = z.infer<typeof ResolveResponse>

/** url-service's internal routes, called only by the api-gateway over mTLS. */
export const internalRoutes = {
  urls: '/v1/urls',
  url: '/v1/urls/:code',
  resolve: '/v1/urls/:code/resolve',
} as const
