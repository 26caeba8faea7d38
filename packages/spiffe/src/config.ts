import { z } from 'zod'
import { selectSource } from './create-source.js'
import { SourceError } from './errors.js'
import { SpiffeId, TrustDomain } from './id.js'

// Blank counts as unset: compose files and charts render empty variables.
const optionalText = z
  .string()
  .trim()
  .transform((value) => (value === '' ? undefined : value))
  .optional()

/** A setting parsed by one of the library's own parsers, with an example in the message. */
function parsedSetting<T>(parse: (value: string) => T, message: string) {
  return z
    .string()
    .trim()
    .transform((value, ctx) => {
      try {
        return parse(value)
      } catch {
        ctx.addIssue({ code: 'custom', message })
        return z.NEVER
      }
    })
}

/** A trust domain name from the environment, parsed the way the rest of the library parses it. */
export const trustDomainSetting = parsedSetting(
  (value) => TrustDomain.parse(value),
  'must be a SPIFFE trust domain such as zt.local',
)

/** A SPIFFE ID from the environment, e.g. the one peer a client may talk to. */
export const spiffeIdSetting = parsedSetting(
  (value) => SpiffeId.parse(value),
  'must be a SPIFFE ID such as spiffe://zt.local/ns/a/sa/b',
)

/**
 * The SPIFFE part of a service's environment, for its config schema to
 * compose: `z.intersection(ownSettings, spiffeEnv)`. The output goes
 * straight to createX509Source.
 */
export const spiffeEnv = z
  .object({
    TRUST_DOMAIN: trustDomainSetting,
    SPIFFE_ENDPOINT_SOCKET: optionalText,
    SPIFFE_SVID_DIR: optionalText,
  })
  .superRefine((value, ctx) => {
    try {
      selectSource(value)
    } catch (error) {
      if (!(error instanceof SourceError)) throw error
      ctx.addIssue({ code: 'custom', path: ['SPIFFE_ENDPOINT_SOCKET'], message: error.message })
    }
  })

export type SpiffeEnv = z.output<typeof spiffeEnv>
