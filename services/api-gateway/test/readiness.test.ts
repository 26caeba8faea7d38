import t from 'tap'
import { svidReadiness } from '../src/readiness.js'
import { createPki, ids } from './helpers/chain.js'

const pki = await createPki()
const hour = 3600_000

t.test('a fresh SVID is ready', async (t) => {
  const source = await pki.source(ids.gateway, { ttlMs: hour })
  t.doesNotThrow(svidReadiness(source))
})

t.test('an SVID in its last quarter means rotation stalled', async (t) => {
  const source = await pki.source(ids.gateway, {
    notBefore: new Date(Date.now() - 50 * 60_000),
    notAfter: new Date(Date.now() + 10 * 60_000),
  })
  t.throws(svidReadiness(source), /rotation appears stalled/)
})

t.test('a one-minute SVID (the compose dev CA) is ready at half-life', async (t) => {
  const source = await pki.source(ids.gateway, {
    notBefore: new Date(Date.now() - 30_000),
    notAfter: new Date(Date.now() + 30_000),
  })
  t.doesNotThrow(svidReadiness(source))
})

t.test('an expired SVID or none at all is not ready', async (t) => {
  const expired = await pki.source(ids.gateway, {
    notBefore: new Date(Date.now() - 2 * hour),
    notAfter: new Date(Date.now() - 1000),
  })
  t.throws(svidReadiness(expired), /SVID expired/)
  const none = {
    svid() {
      throw new Error('X.509 source has no SVID yet')
    },
  }
  t.throws(svidReadiness(none), /no SVID yet/)
})
