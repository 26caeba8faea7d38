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
