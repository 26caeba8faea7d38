import type { X509Source } from './source.js'

/**
 * A readiness check that fails while no SVID is held, or once the one held
 * has less than a quarter of its lifetime left.
 *
 * SPIRE (and the dev CA) rotate at half-life, so a quarter left means the
 * rotation has been overdue for a quarter of the lifetime: it is stalled, and
 * peers will refuse this workload when the SVID expires. The pod should
 * leave the load balancer before then, and leaving takes time: two failed
 * probes five seconds apart plus endpoint propagation. A quarter of the
 * shortest lifetime we run (the compose dev CA's minute) is 15 s, enough; a
 * tenth would be 6 s, not. A fraction, not a fixed time, because lifetimes
 * range from that minute to SPIRE's default hour.
 */
export function svidReadiness(source: Pick<X509Source, 'svid'>): () => void {
  return () => {
    const svid = source.svid()
    const expiresAt = svid.expiresAt.getTime()
    const left = expiresAt - Date.now()
    if (left <= 0) throw new Error(`SVID expired at ${svid.expiresAt.toISOString()}`)
    if (left < (expiresAt - Date.parse(svid.leaf.validFrom)) / 4) {
      throw new Error(`SVID expires at ${svid.expiresAt.toISOString()}; rotation appears stalled`)
    }
  }
}

/** The held SVID's validity period, read when called (for metrics). */
export function svidValidity(source: Pick<X509Source, 'svid'>): () => {
  notBefore: Date
  notAfter: Date
} {
  return () => {
    const svid = source.svid()
    return { notBefore: new Date(svid.leaf.validFrom), notAfter: svid.expiresAt }
  }
}
