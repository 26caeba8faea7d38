import t from 'tap'
import { SpiffeId, SpiffeIdError, TrustDomain } from '../src/index.js'

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

// Each reason with the inputs it refuses.
const invalid: [RegExp, string[]][] = [
  [/cannot be empty/, ['']],
  [/trust domain is missing/, ['spiffe://', 'spiffe:///path']],
  [/scheme/, ['http://td/path', 'SPIFFE://td/path', 'spiffe:/td/path', 'spiffe:td', 'td/path']],
  [/lowercase/, ['spiffe://TD/path', 'spiffe://Td']],
  [
    /trust domain characters/,
    [
      'spiffe://td:8080/path',
      'spiffe://user@td/path',
      'spiffe://user:pass@td',
      'spiffe://td?query',
      'spiffe://td#fragment',
      'spiffe://t%41d',
    ],
  ],
  [
    /path segment characters/,
    [
      'spiffe://td/path?query',
      'spiffe://td/path#fragment',
      'spiffe://td/p%41th',
      'spiffe://td/pa th',
      'spiffe://td/päth',
      'spiffe://td/path$',
    ],
  ],
  [/trailing slash/, ['spiffe://td/', 'spiffe://td/path/']],
  [/empty segments/, ['spiffe://td//path', 'spiffe://td/a//b']],
  [
    /dot segments/,
    ['spiffe://td/.', 'spiffe://td/..', 'spiffe://td/./path', 'spiffe://td/path/../other'],
  ],
  [/longer than 2048 bytes/, [`spiffe://td/${'a'.repeat(2048 - 'spiffe://td/'.length + 1)}`]],
  [/longer than 255 bytes/, [`spiffe://${'a'.repeat(256)}`]],
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
  for (const [reason, inputs] of invalid) {
    for (const input of inputs) {
      t.throws(() => SpiffeId.parse(input), { name: 'SpiffeIdError', message: reason }, input)
    }
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
