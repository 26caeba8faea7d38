import 'reflect-metadata'
import * as x509 from '@peculiar/x509'
import { installProblemHandlers } from '@zt/service-kit'
import Fastify from 'fastify'
import t from 'tap'
import { Agent, request } from 'undici'
import { createCertificateAuthority, type MintOptions, mintSvid } from '../src/dev-ca.js'
import {
  authorizeId,
  authorizeOneOf,
  createMtlsServerOptions,
  installSpiffe,
  MtlsDispatcher,
  StaticX509Source,
  type X509Source,
} from '../src/index.js'
import { bundleSet, callWith, ids, logCapture, port, svidFor, td } from './helpers/pki.js'

const hour = 3600_000
const ca = await createCertificateAuthority({ trustDomain: td })
const evil = await createCertificateAuthority({ trustDomain: 'evil.example' })
// The server federates with evil.example, so the trust-domain check is ours
// alone: OpenSSL would accept evil.example's certificates.
const bundles = bundleSet(ca, evil)
const serverSource = new StaticX509Source(await svidFor(ca, { id: ids.urlService }), bundles)

async function startServer(
  source: X509Source,
  connectionAuthorizer?: ReturnType<typeof authorizeId>,
) {
  const logs = logCapture()
  const app = Fastify({
    logger: { level: 'info', stream: logs.stream },
    https: createMtlsServerOptions(source),
  })
  installProblemHandlers(app)
  installSpiffe(app, { source, authorizer: authorizeId(ids.gateway), connectionAuthorizer })
  let handled = 0
  app.get('/whoami', async (request) => {
    handled++
    request.log.info('handling whoami')
    return { caller: request.spiffeId.toString() }
  })
  app.get(
    '/shared',
    { config: { spiffe: authorizeOneOf([ids.gateway, ids.frontend]) } },
    async (request) => {
      handled++
      return { caller: request.spiffeId.toString() }
    },
  )
  await app.listen({ port: 0, host: '127.0.0.1' })
  t.teardown(() => app.close())
  return { app, logs, url: `https://127.0.0.1:${port(app.server)}`, handled: () => handled }
}

const server = await startServer(serverSource)
const caPem = ca.certificatePem

async function asClient(options: MintOptions, issuer = ca, path = '/whoami') {
  const minted = await mintSvid(issuer, options)
  return callWith(server.url + path, {
    cert: minted.certificatesPem,
    key: minted.keyPem,
    ca: caPem,
  })
}

t.test('the api-gateway SVID is served and its ID reaches the handler and the logs', async (t) => {
  const response = await asClient({ id: ids.gateway })
  t.equal(response.status, 200)
  t.same(JSON.parse(response.body), { caller: String(ids.gateway) })
  const line = server.logs.lines.find((l) => l.msg === 'handling whoami')
  t.equal(line?.peerId, String(ids.gateway), 'the request logger carries the peer ID')
})

t.test('a route can admit more callers than the default', async (t) => {
  const response = await asClient({ id: ids.frontend }, ca, '/shared')
  t.equal(response.status, 200)
  t.same(JSON.parse(response.body), { caller: String(ids.frontend) })
})

t.test('the right CA with another SPIFFE ID gets 403 problem+json', async (t) => {
  const before = server.handled()
  for (const id of [ids.frontend, ids.worker]) {
    const response = await asClient({ id })
    t.equal(response.status, 403, String(id))
    t.match(response.contentType, /^application\/problem\+json/)
    t.match(JSON.parse(response.body), {
      status: 403,
      title: 'Forbidden',
      detail: `${id} may not call this route`,
    })
  }
  t.equal(server.handled(), before, 'the handler never ran')
})

const refused: [string, () => Promise<unknown>, RegExp | undefined][] = [
  ['no client certificate', () => callWith(`${server.url}/whoami`, { ca: caPem }), undefined],
  [
    'another CA with the right SPIFFE ID',
    async () =>
      asClient({ id: ids.gateway }, await createCertificateAuthority({ trustDomain: td })),
    undefined,
  ],
  [
    'an expired SVID',
    () =>
      asClient({
        id: ids.gateway,
        notBefore: new Date(Date.now() - 2 * hour),
        notAfter: new Date(Date.now() - hour),
      }),
    undefined,
  ],
  [
    'an SVID not yet valid',
    () =>
      asClient({
        id: ids.gateway,
        notBefore: new Date(Date.now() + hour),
        notAfter: new Date(Date.now() + 2 * hour),
      }),
    undefined,
  ],
  [
    'two URI SANs',
    () => asClient({ uris: [String(ids.gateway), String(ids.worker)] }),
    /2 URI SANs/,
  ],
  [
    'no URI SAN',
    () => asClient({ uris: [], dnsNames: ['api-gateway.services.svc'] }),
    /no URI SAN/,
  ],
  [
    'a CA certificate used as a leaf',
    () =>
      asClient({
        id: ids.gateway,
        isCa: true,
        keyUsage: x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyCertSign,
      }),
    /must not be a CA/,
  ],
  [
    'a member of another (federated) trust domain',
    () => asClient({ id: 'spiffe://evil.example/ns/services/sa/api-gateway' }, evil),
    /not a member of trust domain zt.local/,
  ],
  [
    'an ID of another trust domain signed by our CA',
    () => asClient({ id: 'spiffe://evil.example/ns/services/sa/api-gateway' }),
    /does not lead to the bundle of evil.example/,
  ],
  [
    'our trust domain signed by the federated CA',
    () => asClient({ id: ids.gateway }, evil),
    /does not lead to the bundle of zt.local/,
  ],
  [
    'a leaf with keyCertSign',
    () =>
      asClient({
        id: ids.gateway,
        keyUsage: x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyCertSign,
      }),
    /keyCertSign/,
  ],
]

for (const [name, attempt, logged] of refused) {
  t.test(`refused with no answer: ${name}`, async (t) => {
    const before = server.handled()
    const linesBefore = server.logs.lines.length
    await t.rejects(attempt(), 'the connection ends without an HTTP response')
    t.equal(server.handled(), before, 'no request reached a handler')
    if (logged) {
      const line = server.logs.lines.slice(linesBefore).find((l) => l.msg === 'mTLS peer refused')
      t.match(line?.reason, logged, 'the server logs why')
    }
  })
}

t.test('a connection authorizer refuses other callers before any request is read', async (t) => {
  const strict = await startServer(serverSource, authorizeId(ids.gateway))
  const frontend = await mintSvid(ca, { id: ids.frontend })
  await t.rejects(
    callWith(`${strict.url}/shared`, {
      cert: frontend.certificatesPem,
      key: frontend.keyPem,
      ca: caPem,
    }),
  )
  t.equal(strict.handled(), 0)
  const gateway = await mintSvid(ca, { id: ids.gateway })
  const ok = await callWith(`${strict.url}/whoami`, {
    cert: gateway.certificatesPem,
    key: gateway.keyPem,
    ca: caPem,
  })
  t.equal(ok.status, 200)
})

t.test('installSpiffe refuses an app without TLS', async (t) => {
  const plain = Fastify()
  t.throws(
    () =>
      installSpiffe(plain as never, { source: serverSource, authorizer: authorizeId(ids.gateway) }),
    /https options/,
  )
})

t.test('a certificate that expires on a kept-alive connection stops being accepted', async (t) => {
  const shortLived = await mintSvid(ca, { id: ids.gateway, notAfter: new Date(Date.now() + 1500) })
  const agent = new Agent({
    connections: 1,
    connect: {
      cert: shortLived.certificatesPem,
      key: shortLived.keyPem,
      ca: caPem,
      checkServerIdentity: () => undefined,
    },
  })
  t.teardown(() => agent.destroy())
  const first = await request(`${server.url}/whoami`, { dispatcher: agent })
  t.equal(first.statusCode, 200)
  await first.body.text()
  await new Promise((resolve) => setTimeout(resolve, 1700))
  const late = await request(`${server.url}/whoami`, { dispatcher: agent })
  t.equal(late.statusCode, 403, 'refused on the same connection once expired')
  t.equal(late.headers.connection, 'close', 'and the connection is closed')
  t.match(await late.body.json(), { detail: /no valid SPIFFE ID/ })
})

t.test('HTTP/2 callers are identified and authorized the same way', async (t) => {
  const app = Fastify({
    http2: true,
    https: { ...createMtlsServerOptions(serverSource), allowHTTP1: true },
  })
  // service-kit types its helpers for HTTP/1 instances; the handlers work on both.
  installProblemHandlers(app as unknown as Parameters<typeof installProblemHandlers>[0])
  installSpiffe(app, { source: serverSource, authorizer: authorizeId(ids.gateway) })
  app.get('/whoami', async (request) => ({
    caller: request.spiffeId.toString(),
    version: request.raw.httpVersion,
  }))
  await app.listen({ port: 0, host: '127.0.0.1' })
  t.teardown(() => app.close())
  const url = `https://127.0.0.1:${port(app.server)}/whoami`
  const call = async (id: typeof ids.gateway) => {
    const source = new StaticX509Source(await svidFor(ca, { id }), bundles)
    const dispatcher = new MtlsDispatcher(source, {
      authorizer: authorizeId(ids.urlService),
      agentOptions: { allowH2: true },
    })
    try {
      const response = await request(url, { dispatcher })
      return { status: response.statusCode, body: (await response.body.json()) as object }
    } finally {
      await dispatcher.close()
    }
  }
  t.same(await call(ids.gateway), {
    status: 200,
    body: { caller: String(ids.gateway), version: '2.0' },
  })
  t.match(await call(ids.worker), { status: 403 })
})

t.test('SVIDs issued by an intermediate CA work in both directions', async (t) => {
  const intermediate = await createCertificateAuthority({ trustDomain: td, parent: ca })
  const serverSvid = await svidFor(intermediate, { id: ids.urlService })
  t.equal(serverSvid.certificates.length, 2, 'the chain carries the intermediate')
  const source = new StaticX509Source(serverSvid, bundles)
  const app = Fastify({ https: createMtlsServerOptions(source) })
  installSpiffe(app, { source, authorizer: authorizeId(ids.gateway) })
  app.get('/whoami', async (request) => ({ caller: request.spiffeId.toString() }))
  await app.listen({ port: 0, host: '127.0.0.1' })
  t.teardown(() => app.close())
  const client = new StaticX509Source(await svidFor(intermediate, { id: ids.gateway }), bundles)
  const dispatcher = new MtlsDispatcher(client, { authorizer: authorizeId(ids.urlService) })
  t.teardown(() => dispatcher.close())
  const response = await request(`https://127.0.0.1:${port(app.server)}/whoami`, { dispatcher })
  t.equal(response.statusCode, 200)
  t.same(await response.body.json(), { caller: String(ids.gateway) })
})
