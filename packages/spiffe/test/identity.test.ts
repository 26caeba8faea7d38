import t from 'tap'
import {
  AuthorizationError,
  authorizeAny,
  authorizeId,
  authorizeMemberOf,
  authorizeOneOf,
  SpiffeId,
  SpiffeIdError,
  TrustDomain,
} from '../src/index.js'

// Cases from standards/SPIFFE-ID.md (and go-spiffe's spiffeid tests).
const valid: [string, string, string][] = [
  ['spiffe://trustdomain', 'trustdomain', ''],
  ['spiffe://trustdomain/path', 'trustdomain', '/path'],
  ['spiffe://trustdomain/path/element', 'trustdomain', '/path/element'],
  ['spiffe://zt.local/ns/services/sa/api-gateway', 'zt.local', '/ns/services/sa/api-gateway'],
  ['spiffe://a-b.c_d.0-9/UPPER/lower/09/._-', 'a-b.c_d.0-9', '/UPPER/lower/09/._-'],
  // Only segments that are exactly "." or ".." are dot segments.
  ['spiffe://td/..a/.b/c..', 'td', '/..a/.b/c..'],
]

const invalid: [string, RegExp][] = [
  ['', /cannot be empty/],
  ['spiffe://', /trust domain is missing/],
  ['spiffe:///path', /trust domain is missing/],
  ['http://td/path', /scheme/],
  ['SPIFFE://td/path', /scheme/],
  ['spiffe:/td/path', /scheme/],
  ['spiffe:td', /scheme/],
  ['td/path', /scheme/],
  ['spiffe://TD/path', /lowercase/],
  ['spiffe://Td', /lowercase/],
  ['spiffe://td:8080/path', /trust domain characters/],
  ['spiffe://user@td/path', /trust domain characters/],
  ['spiffe://user:pass@td', /trust domain characters/],
  ['spiffe://td?query', /trust domain characters/],
  ['spiffe://td#fragment', /trust domain characters/],
  ['spiffe://t%41d', /trust domain characters/],
  ['spiffe://td/path?query', /path segment characters/],
  ['spiffe://td/path#fragment', /path segment characters/],
  ['spiffe://td/p%41th', /path segment characters/],
  ['spiffe://td/pa th', /path segment characters/],
  ['spiffe://td/päth', /path segment characters/],
  ['spiffe://td/path$', /path segment characters/],
  ['spiffe://td/', /trailing slash/],
  ['spiffe://td/path/', /trailing slash/],
  ['spiffe://td//path', /empty segments/],
  ['spiffe://td/a//b', /empty segments/],
  ['spiffe://td/.', /dot segments/],
  ['spiffe://td/..', /dot segments/],
  ['spiffe://td/./path', /dot segments/],
  ['spiffe://td/path/../other', /dot segments/],
  [`spiffe://td/${'a'.repeat(2048 - 'spiffe://td/'.length + 1)}`, /longer than 2048 bytes/],
  [`spiffe://${'a'.repeat(256)}`, /longer than 255 bytes/],
]

t.test('valid SPIFFE IDs parse into trust domain and path', async (t) => {
  for (const [input, trustDomain, path] of valid) {
    const id = SpiffeId.parse(input)
    t.equal(id.trustDomain.name, trustDomain, input)
    t.equal(id.path, path, input)
    t.equal(id.toString(), input, `${input} round-trips`)
    t.equal(JSON.stringify(id), JSON.stringify(input), `${input} serializes as a string`)
  }
  const longest = `spiffe://td/${'a'.repeat(2048 - 'spiffe://td/'.length)}`
  t.equal(SpiffeId.parse(longest).toString().length, 2048, 'exactly 2048 bytes is allowed')
})

t.test('invalid SPIFFE IDs are refused with the reason', async (t) => {
  for (const [input, reason] of invalid) {
    t.throws(() => SpiffeId.parse(input), { name: 'SpiffeIdError', message: reason }, input)
  }
})

t.test('trust domains: bare names only, same character rules', async (t) => {
  t.equal(TrustDomain.parse('zt.local').name, 'zt.local')
  for (const bad of ['', 'ZT.local', 'spiffe://zt.local', 'zt.local:443', 'zt.local/x', 'a b']) {
    t.throws(() => TrustDomain.parse(bad), SpiffeIdError, JSON.stringify(bad))
  }
  const td = TrustDomain.parse('zt.local')
  t.equal(td.id('/ns/services/sa/api').toString(), 'spiffe://zt.local/ns/services/sa/api')
  t.equal(td.idString(), 'spiffe://zt.local')
  t.throws(() => td.id('ns/x'), /must start with/)
  t.throws(() => td.id('/ns/../x'), /dot segments/)
})

t.test('equality and membership compare the whole ID', async (t) => {
  const a = SpiffeId.parse('spiffe://zt.local/ns/services/sa/api')
  t.ok(a.equals(SpiffeId.parse('spiffe://zt.local/ns/services/sa/api')))
  t.notOk(a.equals(SpiffeId.parse('spiffe://zt.local/ns/services/sa/api/x')))
  t.notOk(
    a.equals(SpiffeId.parse('spiffe://zt.local/ns/services/sa/API')),
    'paths are case-sensitive',
  )
  t.notOk(a.equals(SpiffeId.parse('spiffe://zt.other/ns/services/sa/api')))
  t.ok(a.memberOf(TrustDomain.parse('zt.local')))
  t.notOk(a.memberOf(TrustDomain.parse('zt.localx')))
  t.notOk(a.memberOf(TrustDomain.parse('local')))
})

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
