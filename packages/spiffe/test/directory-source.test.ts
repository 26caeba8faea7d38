import { mkdir, readFile, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { DevTrustDomain, mintSvid, workloadDir, workloadId } from '../src/dev-ca.js'
import { DirectorySource, type X509Source } from '../src/index.js'
import { nextUpdate, rotateUnderLoad, serialOf, sleep } from './helpers/load.js'
import { ids, td } from './helpers/pki.js'

function source(dir: string): DirectorySource {
  const created = new DirectorySource({ dir, pollIntervalMs: 250, debounceMs: 20, retryMs: 20 })
  t.teardown(() => created.close())
  return created
}

/** A dev trust domain with one workload's SVID written, and a ready source on its directory. */
async function issuedAndRead(t: Test, workload: string) {
  const domain = await DevTrustDomain.open(t.testdir(), td)
  await domain.issue(workload, 60_000)
  const dir = workloadDir(domain.dir, workload)
  const src = source(dir)
  await src.ready()
  return { domain, dir, src }
}

function countUpdates(src: X509Source) {
  const counter = { n: 0 }
  src.on('update', () => counter.n++)
  return counter
}

t.test('reads the three files and reports readiness and expiry', async (t) => {
  const { src } = await issuedAndRead(t, 'api-gateway')
  t.ok(src.isReady)
  t.ok(src.svid().id.equals(ids.gateway))
  t.ok(src.bundleFor(td))
  const expiresAt = src.expiresAt?.getTime() ?? 0
  t.ok(expiresAt > Date.now() + 50_000 && expiresAt <= Date.now() + 60_000, 'expiry of the SVID')
})

t.test('an identical rewrite is not an update; a new SVID is', async (t) => {
  const { domain, dir, src } = await issuedAndRead(t, 'worker')
  const updates = countUpdates(src)
  const pem = await readFile(join(dir, 'svid.pem'), 'utf8')
  await writeFile(join(dir, 'svid.pem'), pem)
  await sleep(400)
  t.equal(updates.n, 0, 'rewriting the same bytes emits nothing')
  const before = serialOf(src)
  const updated = nextUpdate(src)
  await domain.issue('worker', 60_000)
  await updated
  t.not(serialOf(src), before)
})

t.test('a half-written set is retried and the last good SVID stays', async (t) => {
  const { domain, dir, src } = await issuedAndRead(t, 'api-gateway')
  const good = serialOf(src)
  const updates = countUpdates(src)
  const next = await mintSvid(domain.authority, { id: ids.gateway, ttlMs: 60_000 })

  // A plain, non-atomic writer: first half of the certificate file...
  await writeFile(join(dir, 'svid.pem'), next.certificatesPem.slice(0, 300))
  await sleep(300)
  t.equal(serialOf(src), good, 'a truncated certificate is not installed')
  // ...then the whole certificate, but the key still belongs to the old one...
  await writeFile(join(dir, 'svid.pem'), next.certificatesPem)
  await sleep(300)
  t.equal(serialOf(src), good, 'a certificate without its key is not installed')
  t.equal(updates.n, 0)
  t.ok(src.isReady, 'still ready on the last good SVID')
  // ...and finally the key.
  const updated = nextUpdate(src)
  await writeFile(join(dir, 'svid_key.pem'), next.keyPem)
  await updated
  t.equal(serialOf(src), (next.certificates[0] as { serialNumber: string }).serialNumber)
  t.equal(updates.n, 1, 'one update for the completed set')
})

t.test('a leaf from a CA that the bundle does not hold yet waits for the bundle', async (t) => {
  const { domain, dir, src } = await issuedAndRead(t, 'api-gateway')
  const good = serialOf(src)
  await domain.prepareCaRotation()
  await domain.activateNextCa()
  const next = await mintSvid(domain.authority, { id: ids.gateway })
  await writeFile(join(dir, 'svid_key.pem'), next.keyPem)
  await writeFile(join(dir, 'svid.pem'), next.certificatesPem)
  await sleep(300)
  t.equal(serialOf(src), good, 'not installed while the bundle lacks its CA')
  const updated = nextUpdate(src)
  await writeFile(join(dir, 'bundle.pem'), domain.bundlePem())
  await updated
  t.not(serialOf(src), good)
})

t.test('a source started before the files exist becomes ready when they appear', async (t) => {
  const root = t.testdir()
  const dir = join(root, 'later')
  const src = source(dir)
  await sleep(100)
  t.notOk(src.isReady)
  t.throws(() => src.svid(), { name: 'SourceError' })
  await mkdir(dir)
  const domain = await DevTrustDomain.open(root, td)
  await domain.issue('later', 60_000)
  await src.ready()
  t.ok(src.svid().id.toString().endsWith('/sa/later'))
})

t.test('close() before the first SVID rejects ready()', async (t) => {
  const src = new DirectorySource({ dir: join(t.testdir(), 'never') })
  const ready = src.ready()
  await src.close()
  await t.rejects(ready, { name: 'SourceError' })
})

t.test('requests keep flowing through SVID and CA rotations', async (t) => {
  const domain = await DevTrustDomain.open(t.testdir(), td)
  const ttlMs = 20_000
  await domain.issue('api-gateway', ttlMs)
  await domain.issue('url-service', ttlMs)
  const serverSource = source(workloadDir(domain.dir, 'url-service'))
  const clientSource = source(workloadDir(domain.dir, 'api-gateway'))
  const oldCa = domain.authority
  // Both workloads must have picked up a step before the next one starts,
  // as SPIRE's propagation delay guarantees in a cluster.
  const step = async (action: () => Promise<void> | void) => {
    const updated = Promise.all([nextUpdate(serverSource), nextUpdate(clientSource)])
    await action()
    await domain.issue('url-service', ttlMs)
    await domain.issue('api-gateway', ttlMs)
    await updated
    await sleep(150)
  }
  const url = await rotateUnderLoad(t, serverSource, clientSource, async () => {
    for (let i = 0; i < 3; i++) await step(() => {})
    await step(() => domain.prepareCaRotation())
    await step(() => domain.activateNextCa())
    await step(() => domain.retirePreviousCa())
  })
  t.not(serverSource.bundles().authorities()[0]?.fingerprint256, oldCa.certificate.fingerprint256)
  t.equal(serverSource.bundles().authorities().length, 1, 'the old CA left the bundle')

  // With the old CA retired, an SVID it issued no longer gets in.
  const stale = await mintSvid(oldCa, { id: ids.gateway })
  const { callWith } = await import('./helpers/pki.js')
  await t.rejects(
    callWith(url, {
      cert: stale.certificatesPem,
      key: stale.keyPem,
      ca: domain.bundlePem(),
    }),
  )
})

t.test('the dev CA reuses its CA, names workloads and keeps keys private', async (t) => {
  const dir = t.testdir()
  const first = await DevTrustDomain.open(dir, td)
  const again = await DevTrustDomain.open(dir, td)
  t.equal(again.authority.certificatePem, first.authority.certificatePem, 'ca.pem is reused')
  const otherDomain = await DevTrustDomain.open(dir, 'other.example')
  t.not(
    otherDomain.authority.certificatePem,
    first.authority.certificatePem,
    'not for another trust domain',
  )
  t.equal(String(workloadId(td, 'api-gateway')), 'spiffe://zt.local/ns/services/sa/api-gateway')
  t.equal(String(workloadId(td, 'public/frontend')), 'spiffe://zt.local/ns/public/sa/frontend')
  await again.issue('public/frontend', 60_000)
  const files = workloadDir(dir, 'public/frontend')
  t.equal((await stat(join(files, 'svid_key.pem'))).mode & 0o777, 0o600)
  t.equal((await stat(join(dir, 'ca-key.pem'))).mode & 0o777, 0o600)
  const src = source(files)
  await src.ready()
  t.equal(String(src.svid().id), 'spiffe://zt.local/ns/public/sa/frontend')
})
