import 'reflect-metadata'
import type { X509Certificate } from 'node:crypto'
import * as x509 from '@peculiar/x509'
import t from 'tap'
import {
  createCertificateAuthority,
  KeyUsageFlags,
  loadCertificateAuthority,
  mintSvid,
} from '../src/dev-ca.js'
import { SvidError, verifyX509Svid } from '../src/index.js'
import { bundleSet, ids, td } from './helpers/pki.js'

const hour = 3600_000
const ca = await createCertificateAuthority({ trustDomain: td })
const bundles = bundleSet(ca)

async function code(options: Parameters<typeof mintSvid>[1], usage?: 'clientAuth' | 'serverAuth') {
  const minted = await mintSvid(ca, options)
  try {
    verifyX509Svid(minted.certificates, bundles, { usage })
    return 'accepted'
  } catch (error) {
    if (error instanceof SvidError) return error.code
    throw error
  }
}

t.test('a valid SVID verifies and yields its SPIFFE ID', async (t) => {
  const minted = await mintSvid(ca, { id: ids.gateway })
  const id = verifyX509Svid(minted.certificates, bundles, { usage: 'clientAuth' })
  t.ok(id.equals(ids.gateway))
  t.equal(
    await code({ id: ids.gateway, extendedKeyUsage: null }, 'serverAuth'),
    'accepted',
    'EKU is optional',
  )
  t.equal(
    await code({ id: ids.gateway, dnsNames: ['api.example'] }),
    'accepted',
    'DNS SANs may accompany the URI SAN',
  )
  t.equal(
    await code({
      id: ids.gateway,
      keyUsage: KeyUsageFlags.digitalSignature | KeyUsageFlags.keyAgreement,
    }),
    'accepted',
  )
})

t.test('each X509-SVID rule refuses what breaks it', async (t) => {
  const now = Date.now()
  const cases: [string, Parameters<typeof mintSvid>[1], string, ('clientAuth' | 'serverAuth')?][] =
    [
      ['no URI SAN', { uris: [], dnsNames: ['api-gateway'] }, 'no-uri-san'],
      ['two URI SANs', { uris: [String(ids.gateway), String(ids.worker)] }, 'multiple-uri-sans'],
      ['URI SAN that is not a SPIFFE ID', { uris: ['https://zt.local/api'] }, 'invalid-spiffe-id'],
      ['URI SAN with a bad path', { uris: ['spiffe://zt.local/a/../b'] }, 'invalid-spiffe-id'],
      ['CA certificate as leaf', { id: ids.gateway, isCa: true }, 'leaf-is-ca'],
      ['no key usage', { id: ids.gateway, keyUsage: null }, 'key-usage'],
      [
        'keyEncipherment without digitalSignature',
        { id: ids.gateway, keyUsage: KeyUsageFlags.keyEncipherment },
        'key-usage',
      ],
      [
        'keyCertSign on a leaf',
        { id: ids.gateway, keyUsage: KeyUsageFlags.digitalSignature | KeyUsageFlags.keyCertSign },
        'key-usage',
      ],
      [
        'cRLSign on a leaf',
        { id: ids.gateway, keyUsage: KeyUsageFlags.digitalSignature | KeyUsageFlags.cRLSign },
        'key-usage',
      ],
      [
        'server-only EKU used as a client',
        { id: ids.gateway, extendedKeyUsage: [x509.ExtendedKeyUsage.serverAuth] },
        'extended-key-usage',
        'clientAuth',
      ],
      [
        'client-only EKU used as a server',
        { id: ids.gateway, extendedKeyUsage: [x509.ExtendedKeyUsage.clientAuth] },
        'extended-key-usage',
        'serverAuth',
      ],
      [
        'expired',
        { id: ids.gateway, notBefore: new Date(now - 2 * hour), notAfter: new Date(now - hour) },
        'expired',
      ],
      [
        'not yet valid',
        { id: ids.gateway, notBefore: new Date(now + hour), notAfter: new Date(now + 2 * hour) },
        'not-yet-valid',
      ],
      [
        'ID of a trust domain without a bundle',
        { id: 'spiffe://other.example/ns/services/sa/api-gateway' },
        'no-bundle',
      ],
      [
        'a second SAN extension hiding behind the first',
        {
          id: ids.gateway,
          extraExtensions: [
            new x509.SubjectAlternativeNameExtension([{ type: 'url', value: String(ids.worker) }]),
          ],
        },
        'duplicate-extension',
      ],
    ]
  for (const [name, options, expected, usage] of cases) {
    t.equal(await code(options, usage), expected, name)
  }
})

t.test('the chain must lead to the bundle of the leaf trust domain', async (t) => {
  const foreign = await createCertificateAuthority({ trustDomain: td })
  const forged = await mintSvid(foreign, { id: ids.gateway })
  t.throws(
    () => verifyX509Svid(forged.certificates, bundles),
    { code: 'untrusted-chain' },
    'same name, other CA',
  )

  // A CA trusted for another trust domain cannot vouch for zt.local IDs.
  const evil = await createCertificateAuthority({ trustDomain: 'evil.example' })
  const federated = bundleSet(ca, evil)
  const crossSigned = await mintSvid(evil, { id: ids.gateway })
  t.throws(() => verifyX509Svid(crossSigned.certificates, federated), { code: 'untrusted-chain' })
  const evilOwn = await mintSvid(evil, { id: 'spiffe://evil.example/ns/x/sa/y' })
  t.equal(
    verifyX509Svid(evilOwn.certificates, federated).toString(),
    'spiffe://evil.example/ns/x/sa/y',
  )

  t.throws(() => verifyX509Svid([], bundles), { code: 'empty-chain' })
})

t.test('intermediates are followed, checked and bounded', async (t) => {
  const intermediate = await createCertificateAuthority({ trustDomain: td, parent: ca })
  const leaf = await mintSvid(intermediate, { id: ids.worker })
  t.equal(leaf.certificates.length, 2, 'the SVID chain carries the intermediate')
  t.ok(verifyX509Svid(leaf.certificates, bundles).equals(ids.worker))
  t.throws(
    () => verifyX509Svid(leaf.certificates.slice(0, 1), bundles),
    { code: 'untrusted-chain' },
    'without the intermediate the chain does not build',
  )

  const expiredIntermediate = await createCertificateAuthority({
    trustDomain: td,
    parent: ca,
    notBefore: new Date(Date.now() - 2 * hour),
    notAfter: new Date(Date.now() - hour),
  })
  const underExpired = await mintSvid(expiredIntermediate, { id: ids.worker })
  t.throws(() => verifyX509Svid(underExpired.certificates, bundles), { code: 'expired' })

  const noKeyUsage = await createCertificateAuthority({
    trustDomain: td,
    parent: ca,
    keyUsage: null,
  })
  const underNoKeyUsage = await mintSvid(noKeyUsage, { id: ids.worker })
  t.throws(
    () => verifyX509Svid(underNoKeyUsage.certificates, bundles),
    { code: 'untrusted-chain' },
    'an intermediate must carry keyCertSign',
  )
  const noCertSign = await createCertificateAuthority({
    trustDomain: td,
    parent: ca,
    keyUsage: KeyUsageFlags.cRLSign,
  })
  const underNoCertSign = await mintSvid(noCertSign, { id: ids.worker })
  t.throws(() => verifyX509Svid(underNoCertSign.certificates, bundles), { code: 'untrusted-chain' })
  const pathZero = await createCertificateAuthority({ trustDomain: td, parent: ca, pathLength: 0 })
  const below = await createCertificateAuthority({ trustDomain: td, parent: pathZero })
  t.ok(verifyX509Svid((await mintSvid(pathZero, { id: ids.worker })).certificates, bundles))
  const tooDeep = await mintSvid(below, { id: ids.worker })
  t.throws(
    () => verifyX509Svid(tooDeep.certificates, bundles),
    { code: 'untrusted-chain' },
    'pathLenConstraint 0 allows no CA below',
  )

  // A workload's own leaf cannot act as an intermediate, though its signature fits.
  const stolen = await mintSvid(ca, { id: ids.worker })
  const leafAsIssuer = await loadCertificateAuthority(td, stolen.certificatesPem, stolen.keyPem)
  const issuedByLeaf = await mintSvid(leafAsIssuer, { id: ids.gateway })
  const chain = [
    issuedByLeaf.certificates[0] as X509Certificate,
    stolen.certificates[0] as X509Certificate,
  ]
  t.ok(
    (chain[0] as X509Certificate).verify((chain[1] as X509Certificate).publicKey),
    'the signature is genuine',
  )
  t.throws(() => verifyX509Svid(chain, bundles), { code: 'untrusted-chain' })
})

t.test('validity of every certificate is checked against the given time', async (t) => {
  const minted = await mintSvid(ca, { id: ids.gateway, ttlMs: hour })
  t.throws(
    () => verifyX509Svid(minted.certificates, bundles, { now: new Date(Date.now() + 2 * hour) }),
    {
      code: 'expired',
    },
  )
  const shortCa = await createCertificateAuthority({ trustDomain: td, ttlMs: hour })
  const underShort = await mintSvid(shortCa, { id: ids.gateway, ttlMs: 3 * hour })
  t.throws(
    () =>
      verifyX509Svid(underShort.certificates, bundleSet(shortCa), {
        now: new Date(Date.now() + 2 * hour),
      }),
    { code: 'expired', message: /authority/ },
  )
})
