/**
 * url-service as server.ts starts it (startUrlService, DirectorySource on SVIDs
 * the dev CA wrote) over real TLS sockets and a real PostgreSQL: who gets in,
 * who does not, and rotation under load.
 */
import { X509Certificate } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { connect } from 'node:tls'
import { createTestDatabase } from '@zt/devkit'
import { ConfigError } from '@zt/service-kit'
import {
  createCertificateAuthority,
  type MintOptions,
  mintSvid,
  workloadDir,
} from '@zt/spiffe/dev-ca'
import pino from 'pino'
import t from 'tap'
import { Agent, request } from 'undici'
import { buildApp } from '../src/app.js'
import { loadServerConfig } from '../src/config.js'
import { openDatabase } from '../src/db/database.js'
import { runMigrations } from '../src/db/migrations.js'
import { startUrlService } from '../src/service.js'
import { localConfig, silent } from './helpers/setup.js'
import { devSpiffe, ids } from './helpers/spiffe.js'

const hour = 3600_000
const database = await createTestDatabase(t)
{
  const db = await openDatabase(localConfig(database), { logger: silent })
  await runMigrations(db, silent)
  await db.close()
}
const spiffe = await devSpiffe(t)
const ca = spiffe.trustDomain.authority

function serverEnv(extra: Record<string, string> = {}) {
  return {
    DATABASE_URL: database.connectionString,
    DB_SSL_MODE: 'disable',
    // The ops listener's own logger; the API logs through `logger` below.
    LOG_LEVEL: 'silent',
    HOST: '127.0.0.1',
    PORT: '0',
    OPS_PORT: '0',
    ...spiffe.env,
    ...extra,
  }
}

/** Every line the service logs, parsed. */
const lines: Record<string, unknown>[] = []
const logger = pino(
  { level: 'info' },
  { write: (line: string) => lines.push(JSON.parse(line) as Record<string, unknown>) },
)

async function start(env: Record<string, string> = {}) {
  const service = await startUrlService(loadServerConfig(serverEnv(env)), {
    logger,
    exit: () => undefined,
  })
  t.teardown(() => service.stop())
  let requests = 0
  service.app.server.on('request', () => {
    requests++
  })
  const port = (service.app.server.address() as AddressInfo).port
  const opsPort = (service.ops.app.server.address() as AddressInfo).port
  return {
    ...service,
    port,
    url: `https://127.0.0.1:${port}`,
    ops: `http://127.0.0.1:${opsPort}`,
    /** HTTP requests the server read; a refused connection never gets that far. */
    requests: () => requests,
  }
}

const service = await start()
const gateway = await spiffe.client()

/**
 * A client presenting whatever certificate it is given. It checks the
 * server's chain against the CA but not a host name (the server's SVID has
 * none), so only the server's verdict on the client is under test.
 */
async function callWith(credentials: { cert?: string; key?: string }, path = '/v1/urls') {
  const agent = new Agent({
    connect: {
      ...credentials,
      ca: ca.certificatePem,
      checkServerIdentity: () => undefined,
      maxCachedSessions: 0,
    },
  })
  try {
    const response = await request(`${service.url}${path}`, { dispatcher: agent })
    return {
      status: response.statusCode,
      contentType: String(response.headers['content-type']),
      body: (await response.body.json()) as Record<string, unknown>,
    }
  } finally {
    await agent.destroy()
  }
}

async function asClient(options: MintOptions, issuer = ca, path?: string) {
  const minted = await mintSvid(issuer, options)
  return callWith({ cert: minted.certificatesPem, key: minted.keyPem }, path)
}

t.test('the api-gateway creates and reads; its SPIFFE ID is in the request logs', async (t) => {
  const created = await gateway.fetch(`${service.url}/v1/urls`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ url: 'https://example.com/mtls', alias: 'mtls-ok' }),
  })
  t.equal(created.status, 201)
  t.match(await created.json(), { code: 'mtls-ok' })
  const read = await gateway.fetch(`${service.url}/v1/urls/mtls-ok`)
  t.equal(read.status, 200)
  t.match(await read.json(), { code: 'mtls-ok', url: 'https://example.com/mtls' })

  // A request's line is written when its response finishes, so the GET's
  // may still be on its way; the POST's is certainly there.
  const requestLines = lines.filter((l) => l.msg === 'request completed')
  t.ok(requestLines.length >= 1, 'the requests are logged')
  for (const line of requestLines) t.equal(line.peerId, String(ids.gateway), `${line.msg}: peerId`)
})

t.test('readiness reports the database and the SVID; the ops port is plain HTTP', async (t) => {
  const ready = await fetch(`${service.ops}/readyz`)
  t.equal(ready.status, 200)
  t.same(await ready.json(), { status: 'ok', checks: { database: 'ok', svid: 'ok' } })
  t.equal((await fetch(`${service.ops}/metrics`)).status, 200)
})

t.test('the main port speaks no plain HTTP', async (t) => {
  await t.rejects(fetch(`http://127.0.0.1:${service.port}/v1/urls`))
})

t.test('the right CA but the frontend SPIFFE ID: 403 problem+json', async (t) => {
  // A member of our trust domain is admitted to the connection; the routes
  // then refuse it with a reason, which a misconfigured caller can act on.
  // Strangers (other CAs, other trust domains, broken SVIDs) get no answer.
  const before = service.requests()
  const response = await asClient({ id: ids.frontend })
  t.equal(response.status, 403)
  t.match(response.contentType, /^application\/problem\+json/)
  t.match(response.body, {
    status: 403,
    title: 'Forbidden',
    detail: `${ids.frontend} may not call this route`,
  })
  t.notOk('stack' in response.body)
  t.equal(service.requests(), before + 1, 'the request was read, and refused before the handler')
})

// Every X509-SVID rule is refused by @zt/spiffe (its tls-server.test.ts has the
// whole table). Here: that url-service asks for a client certificate, trusts
// only its own bundle, and runs the SPIFFE check on what OpenSSL accepts.
const refused: [string, () => Promise<unknown>, RegExp | undefined][] = [
  ['no client certificate', () => callWith({}), undefined],
  [
    'a certificate from another CA with the right SPIFFE ID',
    async () =>
      asClient({ id: ids.gateway }, await createCertificateAuthority({ trustDomain: 'zt.local' })),
    undefined,
  ],
  [
    'a member of another trust domain, signed by our CA',
    () => asClient({ id: 'spiffe://evil.example/ns/services/sa/api-gateway' }),
    /evil\.example/,
  ],
]

for (const [name, attempt, reason] of refused) {
  t.test(`refused with no answer: ${name}`, async (t) => {
    const before = service.requests()
    const linesBefore = lines.length
    await t.rejects(attempt(), 'the connection ends without an HTTP response')
    t.equal(service.requests(), before, 'no request was read')
    if (reason) {
      // OpenSSL accepted the chain; the SPIFFE check refused it and says why.
      const line = lines.slice(linesBefore).find((l) => l.msg === 'mTLS peer refused')
      t.match(line?.reason, reason)
    }
  })
}

t.test('AUTHORIZED_CALLERS decides who the routes admit', async (t) => {
  const worker = 'spiffe://zt.local/ns/services/sa/worker'
  const other = await start({ AUTHORIZED_CALLERS: worker })
  const minted = await mintSvid(ca, { id: worker })
  const agent = new Agent({
    connect: {
      cert: minted.certificatesPem,
      key: minted.keyPem,
      ca: ca.certificatePem,
      checkServerIdentity: () => undefined,
    },
  })
  t.teardown(() => agent.destroy())
  const asWorker = await request(`${other.url}/v1/urls/mtls-ok`, { dispatcher: agent })
  t.equal(asWorker.statusCode, 200)
  await asWorker.body.dump()
  const asGateway = await gateway.fetch(`${other.url}/v1/urls/mtls-ok`)
  t.equal(asGateway.status, 403, 'the api-gateway is no longer on the list')
  await asGateway.body?.cancel()
})

const appDb = await openDatabase(localConfig(database), { logger: silent })
t.teardown(() => appDb.close())

/**
 * buildApp as the service builds it, with the gateway as the one caller;
 * returned at once, so hooks added next see its routes being registered.
 */
function mtlsApp() {
  return buildApp({
    db: appDb,
    logger: silent,
    mtls: { source: service.source, trustDomain: ca.trustDomain, authorizedCallers: [ids.gateway] },
  })
}

t.test('every API route declares its callers', async (t) => {
  const app = mtlsApp()
  const undeclared: string[] = []
  let routes = 0
  app.addHook('onRoute', (route) => {
    routes++
    if (typeof route.config?.spiffe !== 'function') undeclared.push(`${route.method} ${route.url}`)
  })
  await app.ready()
  t.teardown(() => app.close())
  t.ok(routes >= 4)
  t.same(undeclared, [], 'no route relies on the default')
})

t.test('an HTTP/0.9 request line with a smuggled header never reaches a route', async (t) => {
  const app = mtlsApp()
  const served: unknown[] = []
  app.get('/probe', { config: { spiffe: () => undefined } }, async (request) => {
    served.push(request.headers)
    return 'served'
  })
  await app.listen({ port: 0, host: '127.0.0.1' })
  t.teardown(() => app.close())
  const port = (app.server.address() as AddressInfo).port
  const minted = await mintSvid(ca, { id: ids.gateway })
  // The gateway's own SVID: a trusted caller, sending what Node reads as
  // HTTP/0.9 with the header X-Injected.
  const answer = await new Promise<string>((resolve) => {
    const socket = connect({
      host: '127.0.0.1',
      port,
      cert: minted.certificatesPem,
      key: minted.keyPem,
      ca: ca.certificatePem,
      checkServerIdentity: () => undefined,
    })
    let data = ''
    socket.on('data', (chunk: Buffer) => (data += chunk.toString('latin1')))
    socket.on('error', () => undefined)
    socket.on('close', () => resolve(data))
    socket.on('secureConnect', () =>
      socket.end('GET /probe\r\nX-Injected: 1 HTTP/1.1\r\nHost: x\r\n\r\n', 'latin1'),
    )
  })
  t.same(served, [], 'the route never ran')
  if (answer !== '') t.match(answer, /^HTTP\/1\.1 400 /)
})

t.test('configuration', async (t) => {
  const base = serverEnv()
  const config = loadServerConfig(base)
  t.same(config.AUTHORIZED_CALLERS.map(String), [String(ids.gateway)], 'default: the api-gateway')
  t.equal(config.TRUST_DOMAIN.name, 'zt.local')
  t.same(
    loadServerConfig({
      ...base,
      AUTHORIZED_CALLERS: ' spiffe://zt.local/ns/a/sa/b , spiffe://zt.local/ns/c/sa/d',
    }).AUTHORIZED_CALLERS.map(String),
    ['spiffe://zt.local/ns/a/sa/b', 'spiffe://zt.local/ns/c/sa/d'],
  )
  const bad: [Record<string, string | undefined>, RegExp][] = [
    [{ TRUST_DOMAIN: undefined }, /TRUST_DOMAIN/],
    [{ TRUST_DOMAIN: 'spiffe://zt.local' }, /TRUST_DOMAIN: must be a SPIFFE trust domain/],
    [{ SPIFFE_SVID_DIR: undefined }, /exactly one of SPIFFE_ENDPOINT_SOCKET/],
    [{ SPIFFE_ENDPOINT_SOCKET: 'unix:///tmp/agent.sock' }, /exactly one of SPIFFE_ENDPOINT_SOCKET/],
    [{ AUTHORIZED_CALLERS: 'api-gateway' }, /AUTHORIZED_CALLERS\.0: must be a SPIFFE ID/],
    [
      { AUTHORIZED_CALLERS: `${ids.gateway},spiffe://other.example/ns/services/sa/api-gateway` },
      /AUTHORIZED_CALLERS\.1: must be a SPIFFE ID in trust domain zt\.local/,
    ],
    [{ AUTHORIZED_CALLERS: 'spiffe://zt.local/ns//sa/x' }, /AUTHORIZED_CALLERS\.0/],
  ]
  for (const [change, message] of bad) {
    t.throws(() => loadServerConfig({ ...base, ...change }), ConfigError)
    t.throws(() => loadServerConfig({ ...base, ...change }), message, JSON.stringify(change))
  }
})

t.test('start-up fails clearly without an SVID, or with one of another trust domain', async (t) => {
  const empty = join(spiffe.dir, 'nobody')
  await t.rejects(
    startUrlService(loadServerConfig(serverEnv({ SPIFFE_SVID_DIR: empty })), {
      logger: silent,
      svidWaitMs: 300,
      exit: () => undefined,
    }),
    /no X\.509-SVID from SPIFFE_SVID_DIR .*nobody within 300 ms/,
  )
  await t.rejects(
    startUrlService(loadServerConfig(serverEnv({ TRUST_DOMAIN: 'other.example' })), {
      logger: silent,
      exit: () => undefined,
    }),
    /SPIFFE ID spiffe:\/\/zt\.local\/ns\/services\/sa\/url-service is not in TRUST_DOMAIN other\.example/,
  )
})

t.test('rotation under load: no failed request, new connections get the new SVID', async (t) => {
  const client = await spiffe.client()
  const serverSerial = (): Promise<string> =>
    new Promise((resolve, reject) => {
      const svid = client.source.svid()
      const socket = connect({
        host: '127.0.0.1',
        port: service.port,
        cert: svid.certificatesPem(),
        key: svid.privateKeyPem(),
        ca: ca.certificatePem,
        checkServerIdentity: () => undefined,
      })
      socket.once('secureConnect', () => {
        resolve(socket.getPeerCertificate().serialNumber.toUpperCase())
        socket.destroy()
      })
      socket.once('error', reject)
    })
  const fileSerial = async () =>
    new X509Certificate(await readFile(join(workloadDir(spiffe.dir, 'url-service'), 'svid.pem')))
      .serialNumber
  const nextUpdate = () => new Promise<void>((resolve) => service.source.on('update', resolve))

  let running = true
  let ok = 0
  const failures: string[] = []
  const load = Array.from({ length: 4 }, async () => {
    while (running) {
      try {
        const response = await client.fetch(`${service.url}/v1/urls/mtls-ok`)
        await response.arrayBuffer()
        if (response.status === 200) ok++
        else failures.push(`status ${response.status}`)
      } catch (error) {
        failures.push(String(error))
      }
    }
  })

  const seen = [await serverSerial()]
  for (let round = 0; round < 3; round++) {
    await new Promise((resolve) => setTimeout(resolve, 200))
    const updated = nextUpdate()
    await spiffe.trustDomain.issue('url-service', hour)
    await spiffe.trustDomain.issue('api-gateway', hour)
    await updated
    const expected = await fileSerial()
    // The update may fire after the key file and before the bundle: wait for the certificate.
    for (let i = 0; i < 50 && service.source.svid().leaf.serialNumber !== expected; i++) {
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
    const serial = await serverSerial()
    t.equal(serial, expected, `round ${round + 1}: a new connection sees the new server SVID`)
    t.notOk(seen.includes(serial), 'not a certificate seen before')
    seen.push(serial)
  }
  await new Promise((resolve) => setTimeout(resolve, 200))
  running = false
  await Promise.all(load)
  t.same(failures, [], 'zero failed requests')
  t.ok(ok > 20, `${ok} requests succeeded during rotation`)
})
