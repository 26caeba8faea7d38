import t from 'tap'
import {
  AuthorizationError,
  authorizeAny,
  authorizeId,
  authorizeMemberOf,
  authorizeOneOf,
  SpiffeId,
  TrustDomain,
} from '../src/index.js'

t.test('authorizers allow exactly what they name', async (t) => {
  const gateway = SpiffeId.parse('spiffe://zt.local/ns/services/sa/api-gateway')
  const worker = SpiffeId.parse('spiffe://zt.local/ns/services/sa/worker')
  const foreign = SpiffeId.parse('spiffe://evil.example/ns/services/sa/api-gateway')
  t.doesNotThrow(() => authorizeAny()(foreign))
  t.doesNotThrow(() => authorizeId(gateway)(gateway))
  t.throws(() => authorizeId(gateway)(worker), AuthorizationError)
  t.throws(() => authorizeId(gateway)(foreign), AuthorizationError, 'same path, other trust domain')
  const oneOf = authorizeOneOf([gateway, worker])
  t.doesNotThrow(() => oneOf(worker))
  t.throws(() => oneOf(foreign), AuthorizationError)
  t.throws(() => authorizeOneOf([])(gateway), AuthorizationError, 'an empty list allows nobody')
  const member = authorizeMemberOf(TrustDomain.parse('zt.local'))
  t.doesNotThrow(() => member(worker))
  t.throws(() => member(foreign), AuthorizationError)
})
