import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { createCertificateAuthority, mintSource } from '../src/dev-ca.js'
import { DirectorySource, SourceError, waitForSvid } from '../src/index.js'
import { ids, td } from './helpers/pki.js'

const ca = await createCertificateAuthority({ trustDomain: td })

t.test('resolves at once for a source that holds an SVID', async (t) => {
  await t.resolves(waitForSvid(await mintSource(ca, { id: ids.gateway }), 300))
})

t.test('no SVID within the wait is a failure naming where it looked, not a hang', async (t) => {
  const empty = await mkdtemp(join(tmpdir(), 'zt-spiffe-nosvid-'))
  t.teardown(() => rm(empty, { recursive: true, force: true }))
  const source = new DirectorySource({ dir: join(empty, 'nobody') })
  t.teardown(() => source.close())
  const started = Date.now()
  await t.rejects(
    waitForSvid(source, 300),
    new SourceError(`no X.509-SVID from SPIFFE_SVID_DIR ${join(empty, 'nobody')} within 300 ms`),
  )
  t.ok(Date.now() - started < 2000)
})

t.test('a source closed while waited on ends the wait', async (t) => {
  const empty = await mkdtemp(join(tmpdir(), 'zt-spiffe-closed-'))
  t.teardown(() => rm(empty, { recursive: true, force: true }))
  const source = new DirectorySource({ dir: empty })
  const waiting = waitForSvid(source, 30_000)
  await source.close()
  await t.rejects(waiting, /closed before it was ready/)
})
