import type { ReadinessCheck } from '@zt/service-kit'
import {
  type Authorizer,
  authorizeOneOf,
  type SpiffeId,
  type TrustDomain,
  type X509Source,
} from '@zt/spiffe'

/** What the main listener needs to serve SPIFFE mutual TLS. */
export interface MtlsDeps {
  /** This workload's SVID and trust bundle, kept current by the source. */
  source: X509Source
  /** Only members of this trust domain may open a connection. */
  trustDomain: TrustDomain
  /** AUTHORIZED_CALLERS. */
  authorizedCallers: readonly SpiffeId[]
}

/**
 * The named caller sets routes declare in `config: { spiffe: ... }`, so each
 * route says who may call it. There is one today: everything in the internal
 * API is for the api-gateway.
 */
export interface Callers {
  /** AUTHORIZED_CALLERS: the api-gateway's SPIFFE ID unless configured otherwise. */
  readonly gateway: Authorizer
}

export function callersFor(authorizedCallers: readonly SpiffeId[]): Callers {
  return { gateway: authorizeOneOf(authorizedCallers) }
}

/** Resolves once the source holds an SVID; rejects after `timeoutMs` saying where it looked. */
export async function waitForSvid(
  source: X509Source,
  where: string,
  timeoutMs: number,
): Promise<void> {
  let timer: NodeJS.Timeout | undefined
  try {
    await Promise.race([
      source.ready(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`no X.509-SVID from ${where} within ${timeoutMs} ms`)),
          timeoutMs,
        )
      }),
    ])
  } finally {
    clearTimeout(timer)
  }
}

/**
 * Fails while no SVID is held, or when the one held has less than a tenth of
 * its lifetime left. SPIRE rotates at half-life, so a tenth left means
 * rotation has stalled for a long while and callers are about to be refused;
 * the pod should leave the Service's endpoints before that. A fraction, not a
 * fixed time, because lifetimes range from a minute (dev CA) to an hour (SPIRE).
 */
export function svidReadiness(source: Pick<X509Source, 'svid'>): ReadinessCheck {
  return () => {
    const svid = source.svid()
    const expiresAt = svid.expiresAt.getTime()
    const left = expiresAt - Date.now()
    if (left < (expiresAt - Date.parse(svid.leaf.validFrom)) / 10) {
      throw new Error(`SVID expires at ${svid.expiresAt.toISOString()}; rotation appears stalled`)
    }
  }
}
