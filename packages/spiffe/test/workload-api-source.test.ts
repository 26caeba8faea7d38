import { mkdtempSync } from 'node:fs'
import { rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { createCertificateAuthority, mintSvid } from '../src/dev-ca.js'
import { TrustDomain, WorkloadApiSource, workloadApiTarget } from '../src/index.js'
import { FakeAgent, responseFor } from './helpers/agent.js'
import { nextUpdate, rotateUnderLoad, serialOf, sleep } from './helpers/load.js'
import { ids, td } from './helpers/pki.js'

const ca = await createCertificateAuthority({ trustDomain: td })
const other = await createCertificateAuthority({ trustDomain: 'other.example' })

// Unix socket paths must stay short (108 bytes), so agents live in /tmp.
function socketDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'zt-agent-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  return dir
}

async function agentFor(id: typeof ids.gateway, authorities = [ca], ttlMs = 60_000) {
  const agent = new FakeAgent(
    socketDir(),
    responseFor(await mintSvid(ca, { id, ttlMs }), authorities),
  )
  await agent.start()
  t.teardown(() => agent.stop())
  return agent
}

function sourceFor(agent: FakeAgent): WorkloadApiSource {
  const source = new WorkloadApiSource({
    endpoint: agent.endpoint,
    initialBackoffMs: 50,
    maxBackoffMs: 400,
  })
  t.teardown(() => source.close())
  return source
}

t.test('SPIFFE_ENDPOINT_SOCKET addresses', async (t) => {
  t.equal(workloadApiTarget('unix:///run/spire/agent.sock'), 'unix:///run/spire/agent.sock')
  t.equal(workloadApiTarget('unix:/run/spire/agent.sock'), 'unix:///run/spire/agent.sock')
  t.equal(workloadApiTarget('tcp://127.0.0.1:8081'), '127.0.0.1:8081')
  for (const bad of [
    'unix://host/run/agent.sock',
    'unix:relative.sock',
    'unix:///run/agent.sock?x=1',
    'unix:///run/agent.sock#f',
    'tcp://spire-agent:8081',
    'tcp://127.0.0.1',
    'http://127.0.0.1:8081',
    '/run/agent.sock',
  ]) {
    t.throws(() => workloadApiTarget(bad), { name: 'SourceError' }, bad)
  }
})

t.test(
  'streams the SVID, the bundle and federated bundles, with the security header',
  async (t) => {
    const svid = await mintSvid(ca, { id: ids.gateway })
    const agent = new FakeAgent(
      socketDir(),
      responseFor(svid, [ca], { 'spiffe://other.example': [other] }),
    )
    await agent.start()
    t.teardown(() => agent.stop())
    const source = sourceFor(agent)
    await source.ready()
    t.ok(source.svid().id.equals(ids.gateway))
    t.equal(source.bundleFor(td)?.authorities[0]?.fingerprint256, ca.certificate.fingerprint256)
    t.equal(
      source.bundleFor(TrustDomain.parse('other.example'))?.authorities[0]?.fingerprint256,
      other.certificate.fingerprint256,
    )
    t.same(agent.headers, ['true'], 'every call carries workload.spiffe.io: true')
  },
)

t.test('an unusable message is ignored; a broken stream is reopened with backoff', async (t) => {
  const agent = await agentFor(ids.gateway)
  const source = sourceFor(agent)
  await source.ready()
  const good = serialOf(source)
  let updates = 0
  source.on('update', () => updates++)

  const mismatched = responseFor(await mintSvid(ca, { id: ids.gateway }), [ca])
  const stranger = responseFor(await mintSvid(ca, { id: ids.worker }), [ca])
  const broken = {
    ...mismatched,
    svids: [{ ...mismatched.svids[0]!, x509_svid_key: stranger.svids[0]!.x509_svid_key }],
  }
  agent.push(broken)
  agent.push({ ...mismatched, svids: [] })
  await sleep(200)
  t.equal(updates, 0, 'nothing installed from a bad message')
  t.equal(serialOf(source), good)

  agent.breakStreams()
  await sleep(100)
  t.ok(source.isReady, 'the last good SVID stays in use while disconnected')
  const rotated = await mintSvid(ca, { id: ids.gateway })
  const updated = nextUpdate(source)
  agent.push(responseFor(rotated, [ca]))
  await updated
  t.equal(
    serialOf(source),
    rotated.certificates[0]?.serialNumber,
    'the reopened stream delivers rotations',
  )

  // The agent restarts: the socket disappears for a while, then comes back.
  await agent.stop()
  await sleep(300)
  const afterRestart = await mintSvid(ca, { id: ids.gateway })
  agent.push(responseFor(afterRestart, [ca]))
  const reconnected = nextUpdate(source, 5000)
  await agent.start()
  await reconnected
  t.equal(serialOf(source), afterRestart.certificates[0]?.serialNumber)
  t.ok(agent.headers.length >= 3 && agent.headers.every((h) => h === 'true'))
})

t.test('requests keep flowing through SVID and CA rotations streamed by the agent', async (t) => {
  const ttlMs = 20_000
  const serverAgent = await agentFor(ids.urlService)
  const clientAgent = await agentFor(ids.gateway)
  const serverSource = sourceFor(serverAgent)
  const clientSource = sourceFor(clientAgent)
  let issuer = ca
  let trusted = [ca]
  const step = async () => {
    const updated = Promise.all([nextUpdate(serverSource), nextUpdate(clientSource)])
    serverAgent.push(responseFor(await mintSvid(issuer, { id: ids.urlService, ttlMs }), trusted))
    clientAgent.push(responseFor(await mintSvid(issuer, { id: ids.gateway, ttlMs }), trusted))
    await updated
    await sleep(150)
  }
  await rotateUnderLoad(t, serverSource, clientSource, async () => {
    for (let i = 0; i < 3; i++) await step()
    const next = await createCertificateAuthority({ trustDomain: td })
    trusted = [ca, next]
    await step()
    issuer = next
    await step()
    trusted = [next]
    await step()
  })
})
