import t from 'tap'
import { createRegistry, installSvidMetrics } from '../src/metrics.js'

t.test("the SVID's validity is read at each scrape", async (t) => {
  const registry = createRegistry('probe')
  let validity = { notBefore: new Date(1_000_000_000_000), notAfter: new Date(1_000_003_600_000) }
  installSvidMetrics(registry, () => validity)
  const value = async (name: string) =>
    (await registry.getSingleMetric(name)?.get())?.values[0]?.value
  t.equal(await value('spiffe_svid_expiry_timestamp_seconds'), 1_000_003_600)
  t.equal(await value('spiffe_svid_issued_timestamp_seconds'), 1_000_000_000)
  // Rotation: the next scrape sees the new SVID.
  validity = { notBefore: new Date(1_000_001_800_000), notAfter: new Date(1_000_005_400_000) }
  t.equal(await value('spiffe_svid_expiry_timestamp_seconds'), 1_000_005_400)
})
