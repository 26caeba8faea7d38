/**
 * The `helm test` checks against loopback stand-ins: a frontend that
 * answers the documented API, ports that listen (an allowed flow, or a
 * policy hole) and ports that do not (a blocked flow).
 */
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http'
import { type AddressInfo, createServer, Socket } from 'node:net'
import { fileURLToPath } from 'node:url'
import { runScript } from '@zt/devkit'
import t, { type Test } from 'tap'
import {
  type HelmTestConfig,
  loadHelmTestConfig,
  parseTarget,
  runHelmTest,
  tcpProbe,
} from '../src/probes.js'

/** A TCP port that accepts connections: an open flow. */
async function listening(t: Test): Promise<number> {
  const server = createServer((socket) => socket.destroy())
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())))
  return (server.address() as AddressInfo).port
}

/** A port nothing listens on: connecting is refused, as a blocked flow may be. */
async function closedPort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return port
}

/** The frontend's public API as documented: 201 with a code, then 302 to the URL. */
async function frontend(t: Test, { broken = false } = {}): Promise<string> {
  let target = ''
  const server: HttpServer = createHttpServer((req, res) => {
    let body = ''
    req.on('data', (chunk) => {
      body += chunk
    })
    req.on('end', () => {
      if (req.method === 'POST' && req.url === '/api/urls') {
        target = (JSON.parse(body) as { url: string }).url
        res.writeHead(broken ? 502 : 201, { 'content-type': 'application/json' })
        res.end(JSON.stringify({ code: 'abc123', url: target }))
      } else if (req.method === 'GET' && req.url === '/r/abc123') {
        res.writeHead(302, { location: target }).end()
      } else res.writeHead(404).end()
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())))
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`
}

const config = (overrides: Partial<HelmTestConfig>): HelmTestConfig => ({
  FRONTEND_URL: 'http://127.0.0.1:1',
  MUST_REACH: [],
  MUST_NOT_REACH: [],
  PROBE_TIMEOUT_MS: 500,
  ...overrides,
})

async function run(settings: HelmTestConfig) {
  const lines: string[] = []
  const passed = await runHelmTest(settings, (line) => lines.push(line))
  return { passed, lines }
}

t.test('targets are host:port', async (t) => {
  t.same(parseTarget('url-service.services.svc.cluster.local:8443'), {
    host: 'url-service.services.svc.cluster.local',
    port: 8443,
  })
  t.same(parseTarget('169.254.169.254:80'), { host: '169.254.169.254', port: 80 })
  t.same(parseTarget('[fd00:ec2::254]:80'), { host: 'fd00:ec2::254', port: 80 })
  for (const bad of ['1.1.1.1', 'host:0', 'host:70000', ':443', 'a b:1'])
    t.throws(() => parseTarget(bad), `${bad}`)
  const loaded = loadHelmTestConfig({
    FRONTEND_URL: 'http://frontend.public.svc.cluster.local:8080',
    MUST_NOT_REACH: '169.254.169.254:80, 1.1.1.1:443',
  })
  t.same(loaded.MUST_NOT_REACH, [
    { host: '169.254.169.254', port: 80 },
    { host: '1.1.1.1', port: 443 },
  ])
  t.equal(loaded.PROBE_TIMEOUT_MS, 3000)
  t.throws(
    () => loadHelmTestConfig({ FRONTEND_URL: 'http://f:8080', MUST_NOT_REACH: '1.1.1.1' }),
    /MUST_NOT_REACH/,
  )
  t.throws(() => loadHelmTestConfig({}), /FRONTEND_URL/)
})

t.test('tcpProbe: open, refused, timed out, unresolvable', async (t) => {
  t.same(await tcpProbe({ host: '127.0.0.1', port: await listening(t) }, 500), { open: true })
  t.same(await tcpProbe({ host: 'localhost', port: await listening(t) }, 500), { open: true })
  t.same(await tcpProbe({ host: '127.0.0.1', port: await closedPort() }, 500), {
    open: false,
    reason: 'refused',
  })
  // A dropped SYN (what a NetworkPolicy does on the VPC CNI): nothing ever answers.
  const blackHole = () => new Socket()
  t.same(await tcpProbe({ host: '10.0.0.1', port: 443 }, 100, blackHole), {
    open: false,
    reason: 'timeout',
  })
  await t.rejects(tcpProbe({ host: 'no-such-host.invalid', port: 443 }, 500), /cannot resolve/)
})

t.test(
  'passes when the path works, the allowed port opens and the denied ones do not',
  async (t) => {
    const result = await run(
      config({
        FRONTEND_URL: await frontend(t),
        MUST_REACH: [{ host: '127.0.0.1', port: await listening(t) }],
        MUST_NOT_REACH: [{ host: '127.0.0.1', port: await closedPort() }],
      }),
    )
    t.ok(result.passed, result.lines.join('\n'))
    t.equal(result.lines.length, 3)
    t.match(result.lines[0], /^ok: public path: abc123 -> https:\/\/example\.com\/helm-test\//)
    t.match(result.lines[2], /^ok: 127\.0\.0\.1:\d+ is closed \(refused\)$/)
  },
)

t.test('a reachable denied target fails the run (a policy hole)', async (t) => {
  const hole = await listening(t)
  const result = await run(
    config({
      FRONTEND_URL: await frontend(t),
      MUST_NOT_REACH: [
        { host: '127.0.0.1', port: await closedPort() },
        { host: '127.0.0.1', port: hole },
      ],
    }),
  )
  t.notOk(result.passed)
  t.same(result.lines.slice(1), [
    result.lines[1],
    `not ok: 127.0.0.1:${hole} is reachable: a NetworkPolicy lets this pod through`,
  ])
})

t.test('an unreachable allowed target fails: the closed probes would prove nothing', async (t) => {
  const result = await run(
    config({
      FRONTEND_URL: await frontend(t),
      MUST_REACH: [{ host: '127.0.0.1', port: await closedPort() }],
    }),
  )
  t.notOk(result.passed)
  t.match(result.lines[1], /^not ok: 127\.0\.0\.1:\d+ must be reachable: refused$/)
})

t.test('an unresolvable denied target fails: nothing was tested', async (t) => {
  const result = await run(
    config({
      FRONTEND_URL: await frontend(t),
      MUST_NOT_REACH: [{ host: 'no-such-host.invalid', port: 8443 }],
    }),
  )
  t.notOk(result.passed)
  t.match(result.lines[1], /^not ok: no-such-host\.invalid:8443: cannot resolve/)
})

t.test('a broken public path fails, and the probes still run and report', async (t) => {
  const result = await run(
    config({
      FRONTEND_URL: await frontend(t, { broken: true }),
      MUST_NOT_REACH: [{ host: '127.0.0.1', port: await closedPort() }],
    }),
  )
  t.notOk(result.passed)
  t.match(result.lines[0], /^not ok: public path: POST \/api\/urls: 502/)
  t.match(result.lines[1], /^ok: .* is closed/)
})

t.test('the entry point exits 0 on a pass and 1 on a hole', async (t) => {
  const entry = fileURLToPath(new URL('../src/helm-test.ts', import.meta.url))
  const exec = (env: Record<string, string>) => runScript(entry, env)
  const FRONTEND_URL = await frontend(t)
  const pass = await exec({ FRONTEND_URL, MUST_NOT_REACH: `127.0.0.1:${await closedPort()}` })
  t.equal(pass.code, 0, pass.output)
  const hole = await exec({ FRONTEND_URL, MUST_NOT_REACH: `127.0.0.1:${await listening(t)}` })
  t.equal(hole.code, 1, hole.output)
  t.match(hole.output, /is reachable: a NetworkPolicy lets this pod through/)
  const misconfigured = await exec({})
  t.equal(misconfigured.code, 1)
  t.match(misconfigured.output, /^not ok: invalid configuration:[\s\S]*FRONTEND_URL/)
})
