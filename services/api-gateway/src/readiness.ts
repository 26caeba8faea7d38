import type { ReadinessCheck } from '@zt/service-kit'
import type { X509Source } from '@zt/spiffe'

/**
 * Fails when no SVID is held, or when the one held has less than
 * `minRemaining` of its lifetime left. SPIRE rotates at about half-life, so
 * a quarter left means rotation has stalled and calls to url-service are
 * about to fail: the pod should leave the load balancer before they do. A
 * fraction, not a fixed time, because lifetimes range from a minute (the
 * compose dev CA) to an hour (SPIRE's default).
 */
export function svidReadiness(
  source: Pick<X509Source, 'svid'>,
  minRemaining = 0.25,
): ReadinessCheck {
  return () => {
    const svid = source.svid()
    const notBefore = Date.parse(svid.leaf.validFrom)
    const expiresAt = svid.expiresAt.getTime()
    const left = expiresAt - Date.now()
    if (left <= 0) throw new Error(`SVID expired at ${svid.expiresAt.toISOString()}`)
    if (left < (expiresAt - notBefore) * minRemaining) {
      throw new Error(`SVID expires at ${svid.expiresAt.toISOString()}; rotation appears stalled`)
    }
  }
}
