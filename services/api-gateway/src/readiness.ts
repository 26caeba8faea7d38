import type { ReadinessCheck } from '@zt/service-kit'

/** A SPIFFE X.509 source as readiness sees it: when the current SVID expires. */
export interface SvidHolder {
  readonly expiresAt: Date | undefined
}

/**
 * Fails when no SVID is held or the one held expires within `minRemainingMs`:
 * rotation has stalled, and calls to url-service are about to fail, so the
 * pod should leave the load balancer before they do.
 */
export function svidReadiness(source: SvidHolder, minRemainingMs = 5 * 60_000): ReadinessCheck {
  return () => {
    const expiresAt = source.expiresAt
    if (expiresAt === undefined) throw new Error('no SVID yet')
    const remaining = expiresAt.getTime() - Date.now()
    if (remaining <= 0) throw new Error(`SVID expired at ${expiresAt.toISOString()}`)
    if (remaining < minRemainingMs) {
      throw new Error(`SVID expires at ${expiresAt.toISOString()}; rotation appears stalled`)
    }
  }
}
