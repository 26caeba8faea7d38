import { randomBytes } from 'node:crypto'
import { createServer, type Server } from 'node:https'
import { connect as tlsConnect } from 'node:tls'
import t from 'tap'
import { request } from 'undici'
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
  async function takeOver(connect: (url: string) => Promise<unknown>) {
    const original = await serve(urlService)
    await connect(original.url)
    await stop(original.server)
    await serve(impostor, Number(new URL(original.url).port))
    return original.url
  }

  // First the attack, to show the test can fail: a client that checks the
  // server's SPIFFE ID in checkServerIdentity but keeps its TLS session, as
  // undici's default session cache does. Node skips checkServerIdentity on a
  // resumed session. The session is held here rather than in undici's cache,
  // which holds it only by a WeakRef and so loses it to any GC.
  const checked: string[] = []
  const svid = gateway.svid()
  const naive = (url: string, session?: Buffer) =>
    new Promise<{ session: Buffer; resumed: boolean }>((resolve, reject) => {
      const socket = tlsConnect({
        host: '127.0.0.1',
        port: Number(new URL(url).port),
        cert: svid.certificatesPem(),
        key: svid.privateKeyPem(),
        ca: ca.certificatePem,
        session,
        checkServerIdentity: (_host, peer) => {
          try {
            const id = verifyX509Svid(chainFromPeerCertificate(peer), bundles)
            checked.push(String(id))
            authorizeId(ids.urlService)(id)
            return undefined
          } catch (error) {
            return error as Error
          }
        },
      })
      socket.once('error', reject)
      // The server sends its TLS 1.3 tickets with its first write after the
      // handshake, so ask for a page and keep what arrives until it closes.
      let ticket = session
      let resumed = false
      socket.once('secureConnect', () => {
        resumed = socket.isSessionReused()
        socket.end('GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')
      })
      socket.on('session', (next: Buffer) => {
        ticket = next
      })
      socket.resume()
      socket.once('close', () =>
        ticket ? resolve({ session: ticket, resumed }) : reject(new Error('no TLS session ticket')),
      )
    })
  let ticket: Buffer | undefined
  const url = await takeOver(async (url) => {
    ticket = (await naive(url)).session
  })
  const attack = await naive(url, ticket)
  t.ok(attack.resumed, 'the impostor resumed the genuine server’s session')
  t.same(checked, [String(ids.urlService)], 'and the identity check never ran for the impostor')

  const dispatcher = new MtlsDispatcher(gateway, { authorizer: authorizeId(ids.urlService) })
  t.teardown(() => dispatcher.destroy())
  const again = await takeOver(async (url) => (await request(url, { dispatcher })).body.dump())
  await t.rejects(
    request(again, { dispatcher }),
    { message: /is not/ },
    'MtlsDispatcher checks every connection',
  )
})
