import t from 'tap'
import { createCertificateAuthority } from '../src/dev-ca.js'
import { SpiffeId, TrustDomain, X509Bundle, X509BundleSet } from '../src/index.js'
import { td } from './helpers/pki.js'

const ca = await createCertificateAuthority({ trustDomain: td })

t.test('bundles parse PEM and concatenated DER and are keyed by trust domain', async (t) => {
  const second = await createCertificateAuthority({ trustDomain: td })
  const pem = ca.certificatePem + second.certificatePem
  const bundle = X509Bundle.parsePem(td, `comment before\n${pem}trailing text`)
  t.equal(bundle.authorities.length, 2)
  const der = Buffer.concat([ca.certificate.raw, second.certificate.raw])
  t.ok(X509Bundle.parseDer(td, der).equals(bundle))
  t.equal(X509Bundle.parsePem(td, bundle.toPem()).authorities.length, 2)
  t.throws(() => X509Bundle.parsePem(td, 'no certificates'), { code: 'malformed' })
  t.throws(() => X509Bundle.parseDer(td, Buffer.from([0x31, 0x00])), { code: 'malformed' })

  const other = TrustDomain.parse('other.example')
  const set = new X509BundleSet([bundle, new X509Bundle(other, [second.certificate])])
  t.equal(set.bundleFor(td)?.authorities.length, 2)
  t.equal(set.bundleFor(TrustDomain.parse('missing.example')), undefined)
  t.equal(set.authorities().length, 3)
  t.notOk(set.equals(new X509BundleSet([bundle])))
  t.ok(set.equals(new X509BundleSet([new X509Bundle(other, [second.certificate]), bundle])))
  t.ok(SpiffeId.parse('spiffe://other.example').memberOf(other))
})
