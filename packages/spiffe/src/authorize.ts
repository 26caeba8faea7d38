import { AuthorizationError } from './errors.js'
import type { SpiffeId, TrustDomain } from './id.js'

/**
 * Decides whether a verified peer may talk to us; throws AuthorizationError
 * when it may not. Peers are authorized by SPIFFE ID only, never by DNS name
 * or common name.
 */
export type Authorizer = (id: SpiffeId) => void

/** Any peer with a valid SVID from a trusted bundle. Use only where every trusted workload may call. */
export function authorizeAny(): Authorizer {
  return () => {}
}

export function authorizeId(allowed: SpiffeId): Authorizer {
  return (id) => {
    if (!id.equals(allowed)) throw new AuthorizationError(`${id} is not ${allowed}`)
  }
}

export function authorizeOneOf(allowed: Iterable<SpiffeId>): Authorizer {
  const ids = new Set([...allowed].map(String))
  return (id) => {
    if (!ids.has(id.toString())) throw new AuthorizationError(`${id} is not an allowed caller`)
  }
}

export function authorizeMemberOf(trustDomain: TrustDomain): Authorizer {
  return (id) => {
    if (!id.memberOf(trustDomain)) {
      throw new AuthorizationError(`${id} is not a member of trust domain ${trustDomain}`)
    }
  }
}
