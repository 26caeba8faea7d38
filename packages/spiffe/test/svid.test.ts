import type { X509Certificate } from 'node:crypto'
import t from 'tap'
import { createCertificateAuthority, mintSvid } from '../src/dev-ca.js'
import { X509Svid } from '../src/index.js'
import { ids, td } from './helpers/pki.js'

const hour = 3600_000
const ca = await createCertificateAuthority({ trustDomain: td })

t.test('X509Svid parses PEM and DER and insists the key matches the leaf', async (t) => {
  const a = await mintSvid(ca, { id: ids.gateway, ttlMs: hour })
  const b = await mintSvid(ca, { id: ids.gateway })
  const svid = X509Svid.parsePem(a.certificatesPem, a.keyPem)
  t.ok(svid.id.equals(ids.gateway))
  t.equal(
    svid.expiresAt.getTime(),
    new Date((a.certificates[0] as X509Certificate).validTo).getTime(),
  )
  t.same(JSON.parse(JSON.stringify(svid)), {
    id: String(ids.gateway),
    expiresAt: svid.expiresAt.toISOString(),
  })
  t.notMatch(JSON.stringify(svid), /PRIVATE/, 'serializing never shows the key')
  t.throws(() => X509Svid.parsePem(a.certificatesPem, b.keyPem), { code: 'key-mismatch' })
  t.throws(() => X509Svid.parsePem('', a.keyPem), { code: 'empty-chain' })
  t.throws(() => X509Svid.parsePem(a.certificatesPem, a.keyPem.slice(0, 60)), { code: 'malformed' })

  const der = Buffer.concat(svid.certificates.map((c) => c.raw))
  const keyDer = svid.privateKey.export({ format: 'der', type: 'pkcs8' })
  const fromDer = X509Svid.parseDer(der, keyDer)
  t.ok(fromDer.equals(svid))
  t.match(fromDer.privateKeyPem(), /BEGIN PRIVATE KEY/)
  t.throws(() => X509Svid.parseDer(der.subarray(0, der.length - 5), keyDer), { code: 'malformed' })
})
