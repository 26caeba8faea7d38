import { randomBytes } from 'node:crypto'
import { createServer, type Server } from 'node:https'
import t from 'tap'
import { Agent, request } from 'undici'
import { createCertificateAuthority } from '../src/dev-ca.js'
import {
  attachMtls,
  authorizeAny,
  authorizeId,
  chainFromPeerCertificate,
  createMtlsServerOptions,
  MtlsDispatcher,
  peerSpiffeId,
  StaticX509Source,
  verifyX509Svid,
  type X509Source,
} from '../src/index.js'
import { bundleSet, ids, port, svidFor, td } from './helpers/pki.js'

const ca = await createCertificateAuthority({ trustDomain: td })
const bundles = bundleSet(ca)
const gateway = new StaticX509Source(await svidFor(ca, { id: ids.gateway }), bundles)
const urlService = new StaticX509Source(await svidFor(ca, { id: ids.urlService }), bundles)
const impostor = new StaticX509Source(await svidFor(ca, { id: ids.worker }), bundles)
// Shared ticket keys let a second server resume sessions the first issued:
// the situation in which a cached session skips the server identity check.
const ticketKeys = randomBytes(48)

async function serve(source: X509Source, listenPort = 0): Promise<{ server: Server; url: string }> {
  const server = createServer({ ...createMtlsServerOptions(source), ticketKeys }, (req, res) => {
    res.end(
      JSON.stringify({
        caller: String(peerSpiffeId(req.socket)),
        resumed: (req.socket as import('node:tls').TLSSocket).isSessionReused(),
      }),
    )
  })
  attachMtls(server, source, { authorizer: authorizeAny() })
  await new Promise<void>((resolve) => server.listen(listenPort, '127.0.0.1', resolve))
  t.teardown(() => stop(server))
  return { server, url: `https://127.0.0.1:${port(server)}/` }
}

function stop(server: Server): Promise<void> {
  server.closeAllConnections()
  return new Promise((resolve) => server.close(() => resolve()))
}

const genuine = await serve(urlService)
const fake = await serve(impostor)

t.test(
  'the client reaches a server with the authorized SPIFFE ID and presents its own',
  async (t) => {
    const dispatcher = new MtlsDispatcher(gateway, { authorizer: authorizeId(ids.urlService) })
    t.teardown(() => dispatcher.close())
    const response = await request(genuine.url, { dispatcher })
    t.equal(response.statusCode, 200)
    t.match(await response.body.json(), { caller: String(ids.gateway) })
  },
)

t.test('the client refuses a server with a valid SVID but the wrong SPIFFE ID', async (t) => {
  const dispatcher = new MtlsDispatcher(gateway, { authorizer: authorizeId(ids.urlService) })
  t.teardown(() => dispatcher.close())
  await t.rejects(request(fake.url, { dispatcher }), {
    message: `${ids.worker} is not ${ids.urlService}`,
  })
})

t.test('the client refuses a server whose SVID comes from another CA', async (t) => {
  const otherCa = await createCertificateAuthority({ trustDomain: td })
  const forged = new StaticX509Source(
    await svidFor(otherCa, { id: ids.urlService }),
    bundleSet(otherCa),
  )
  const forgedServer = await serve(forged)
  const dispatcher = new MtlsDispatcher(gateway, { authorizer: authorizeId(ids.urlService) })
  t.teardown(() => dispatcher.close())
  await t.rejects(request(forgedServer.url, { dispatcher }))
})

t.test('fetch works through the dispatcher too', async (t) => {
  const { fetch } = await import('undici')
  const dispatcher = new MtlsDispatcher(gateway, { authorizer: authorizeId(ids.urlService) })
  t.teardown(() => dispatcher.close())
  const response = await fetch(genuine.url, { dispatcher })
  t.equal(response.status, 200)
})

t.test('session resumption cannot skip the server identity check', async (t) => {
  // The impostor takes over the genuine server's address (think of a pod IP
  // reused) and shares its ticket keys, so it can resume its sessions.
  async function takeOver(dispatcher: import('undici').Dispatcher) {
    const original = await serve(urlService)
    const first = await request(original.url, { dispatcher })
    t.match(await first.body.json(), { resumed: false })
    // TLS 1.3 session tickets arrive after the handshake.
    await new Promise((resolve) => setTimeout(resolve, 50))
    await stop(original.server)
    await serve(impostor, Number(new URL(original.url).port))
    return request(original.url, { dispatcher })
  }

  // First the attack, to show the test can fail: an agent with the same
  // identity check but undici's default session cache resumes the session
  // on the impostor, and Node skips checkServerIdentity on resumption.
  const check = (_host: string, peer: import('node:tls').PeerCertificate) => {
    try {
      authorizeId(ids.urlService)(verifyX509Svid(chainFromPeerCertificate(peer), bundles))
      return undefined
    } catch (error) {
      return error as Error
    }
  }
  const svid = gateway.svid()
  const naive = new Agent({
    connect: {
      cert: svid.certificatesPem(),
      key: svid.privateKeyPem(),
      ca: ca.certificatePem,
      checkServerIdentity: check,
    },
  })
  t.teardown(() => naive.destroy())
  const attack = await takeOver(naive)
  t.match(
    await attack.body.json(),
    { resumed: true },
    'with a session cache the impostor is accepted',
  )

  const dispatcher = new MtlsDispatcher(gateway, { authorizer: authorizeId(ids.urlService) })
  t.teardown(() => dispatcher.destroy())
  await t.rejects(
    takeOver(dispatcher),
    { message: /is not/ },
    'MtlsDispatcher checks every connection',
  )
})

t.test('a rotation swaps in a new connection pool and drains the old one', async (t) => {
  const source = new StaticX509Source(await svidFor(ca, { id: ids.gateway }), bundles)
  const dispatcher = new MtlsDispatcher(source, { authorizer: authorizeId(ids.urlService) })
  t.teardown(() => dispatcher.close())
  const serials = new Set<string>()
  const seen = await serve(urlService)
  seen.server.removeAllListeners('request')
  seen.server.on('request', (req, res) => {
    serials.add((req.socket as import('node:tls').TLSSocket).getPeerCertificate().serialNumber)
    res.end('ok')
  })
  for (let i = 0; i < 3; i++) {
    const response = await request(seen.url, { dispatcher })
    await response.body.text()
    source.set(await svidFor(ca, { id: ids.gateway }), bundles)
  }
  t.equal(serials.size, 3, 'each rotation shows the server a new client certificate')
})

t.test('the connection pool is replaced when it reaches its age limit', async (t) => {
  const serials: string[] = []
  const aged = await serve(urlService)
  aged.server.removeAllListeners('request')
  aged.server.on('request', (req, res) => {
    serials.push(`${req.socket.remotePort}`)
    res.end('ok')
  })
  const dispatcher = new MtlsDispatcher(gateway, {
    authorizer: authorizeId(ids.urlService),
    maxConnectionAgeMs: 1000,
    // One connection, so the second request must reuse the first's socket.
    agentOptions: { connections: 1 },
  })
  t.teardown(() => dispatcher.close())
  await (await request(aged.url, { dispatcher })).body.text()
  await (await request(aged.url, { dispatcher })).body.text()
  await new Promise((resolve) => setTimeout(resolve, 1200))
  await (await request(aged.url, { dispatcher })).body.text()
  t.equal(serials[0], serials[1], 'keep-alive reuses the connection')
  t.not(serials[2], serials[1], 'after the age limit a new connection is made')
})

t.test('sequential calls reuse one TLS connection: no handshake per request', async (t) => {
  const counted = await serve(urlService)
  let handshakes = 0
  counted.server.on('secureConnection', () => handshakes++)
  // Default agent options, as the gateway builds it.
  const dispatcher = new MtlsDispatcher(gateway, { authorizer: authorizeId(ids.urlService) })
  t.teardown(() => dispatcher.close())
  for (let i = 0; i < 20; i++) {
    const response = await request(counted.url, { dispatcher, method: i % 2 ? 'POST' : 'GET' })
    t.match(await response.body.json(), { caller: String(ids.gateway), resumed: false })
    // A real next call arrives later than the tick that frees the connection.
    await new Promise((resolve) => setImmediate(resolve))
  }
  t.equal(handshakes, 1)
})

t.test('the connections of one pool share one secure context', async (t) => {
  const tls = await import('node:tls')
  let contexts = 0
  const { MtlsDispatcher: Counted } = await t.mockImport<typeof import('../src/tls-client.js')>(
    '../src/tls-client.js',
    {
      'node:tls': {
        ...tls,
        createSecureContext: (options: import('node:tls').SecureContextOptions) => {
          contexts++
          return tls.createSecureContext(options)
        },
      },
    },
  )
  const counted = await serve(urlService)
  let handshakes = 0
  counted.server.on('secureConnection', () => handshakes++)
  // authorizeAny: the mocked module tree has its own SpiffeId class, which
  // cannot be compared with this file's; the identity checks are tested above.
  const dispatcher = new Counted(gateway, { authorizer: authorizeAny() })
  t.teardown(() => dispatcher.close())
  // Concurrent calls open several connections, each with a full handshake.
  const answers = await Promise.all(
    Array.from({ length: 4 }, async () => {
      const response = await request(counted.url, { dispatcher })
      return response.body.json()
    }),
  )
  t.equal(answers.length, 4)
  t.ok(handshakes > 1, `${handshakes} connections`)
  t.equal(contexts, 1, 'key, chain and bundle parsed once per pool, not per connection')
})
