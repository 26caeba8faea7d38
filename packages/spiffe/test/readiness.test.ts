import t from 'tap'
import { createCertificateAuthority, mintSource } from '../src/dev-ca.js'
import { svidReadiness, svidValidity } from '../src/index.js'
import { ids, td } from './helpers/pki.js'

const ca = await createCertificateAuthority({ trustDomain: td })
const hour = 3600_000
const minute = 60_000
const svid = (pastMs: number, leftMs: number) =>
  mintSource(ca, {
    id: ids.gateway,
    notBefore: new Date(Date.now() - pastMs),
    notAfter: new Date(Date.now() + leftMs),
  })

t.test('a fresh SVID is ready', async (t) => {
  t.doesNotThrow(svidReadiness(await svid(0, hour)))
})

t.test('a one-minute SVID (the compose dev CA) is ready at half-life', async (t) => {
  t.doesNotThrow(svidReadiness(await svid(30_000, 30_000)))
})

t.test('an SVID in its last quarter means rotation stalled', async (t) => {
  // A sixth left: a tenth as the threshold would still call it ready.
  t.throws(svidReadiness(await svid(50 * minute, 10 * minute)), /rotation appears stalled/)
  t.throws(svidReadiness(await svid(95_000, 5_000)), /rotation appears stalled/)
  t.doesNotThrow(svidReadiness(await svid(40 * minute, 20 * minute)), 'a third left is fine')
})

t.test('an expired SVID or none at all is not ready', async (t) => {
  t.throws(svidReadiness(await svid(2 * hour, -1000)), /SVID expired/)
  const none = {
    svid(): never {
      throw new Error('X.509 source has no SVID yet')
    },
  }
  t.throws(svidReadiness(none), /no SVID yet/)
})

t.test("svidValidity reads the held SVID's validity each time it is called", async (t) => {
  const notBefore = new Date(Math.floor((Date.now() - minute) / 1000) * 1000)
  const notAfter = new Date(Math.floor((Date.now() + hour) / 1000) * 1000)
  const source = await mintSource(ca, { id: ids.gateway, notBefore, notAfter })
  t.same(svidValidity(source)(), { notBefore, notAfter })
})
