/**
 * `pnpm test:compose`: docker-compose.yml brought up for real with
 * docker-compose 1.29 on podman (its Docker-compatible socket), with
 * standins/compose.override.yml swapping only the two third-party images no
 * registry serves here (postgres, LocalStack). Our three images are the
 * ones `pnpm images` built from the same Dockerfile, under the names the
 * compose file gives them. Then: a link through the published frontend, its
 * redirect, the click counted in PostgreSQL, and `down -v` leaving nothing.
 *
 * podman schedules healthchecks with systemd timers, and this machine has no
 * systemd: the test runs each container's own healthcheck
 * (`podman healthcheck run`) on its interval instead, as the timer would.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { isPortFree } from '@zt/devkit'
import t from 'tap'
import { repoRoot } from '../src/root.js'
import { imageName, SERVICES } from './images.js'
import { ensurePodman, imageExists, podman, podmanOk, run } from './podman.js'
import { ensureComposeStandins } from './standins.js'

const project = 'zt-compose-test'
const files = ['-f', 'docker-compose.yml', '-f', 'e2e/containers/standins/compose.override.yml']
const frontend = 'http://127.0.0.1:3000'

let service: ChildProcess | undefined
let env: NodeJS.ProcessEnv = process.env
let stopHealth = false
let healthLoop: Promise<void> = Promise.resolve()

const compose = (args: string[], timeoutMs = 120_000) =>
  run('docker-compose', ['-p', project, ...files, ...args], { cwd: repoRoot, env, timeoutMs })

/** What systemd's timer would do: each running container's healthcheck, on its interval. */
async function driveHealthchecks(): Promise<void> {
  const intervals = new Map<string, number>()
  const last = new Map<string, number>()
  while (!stopHealth) {
    const ps = await podman([
      'ps',
      '--filter',
      `label=com.docker.compose.project=${project}`,
      '--format',
      '{{.ID}}',
    ])
    await Promise.all(
      ps.stdout
        .split('\n')
        .filter(Boolean)
        .map(async (id) => {
          if (!intervals.has(id)) {
            const out = await podman(['inspect', id, '--format', '{{json .Config.Healthcheck}}'])
            const check = JSON.parse(out.stdout.trim() || 'null') as { Interval?: number } | null
            intervals.set(id, check ? (check.Interval ?? 30e9) / 1e6 : -1)
          }
          const interval = intervals.get(id) ?? -1
          if (interval < 0 || Date.now() - (last.get(id) ?? 0) < interval) return
          last.set(id, Date.now())
          await podman(['healthcheck', 'run', id], { timeoutMs: 30_000 }).catch(() => undefined)
        }),
    )
    await sleep(500)
  }
}

/**
 * What a CI report needs when the first redirect fails, shortest last so a
 * report cut to its end still shows it: the full logs, then the answer, a
 * second try, which containers started or stopped around it (each makes
 * podman's DNS server reload, losing queries), and the warnings. The second
 * try counts a click of its own: the click check after a failed first
 * redirect says nothing about that redirect.
 */
async function explainFailedRedirect(hop: Response, code: string, asked: Date): Promise<string> {
  const answer = `GET /r/${code}: ${hop.status} ${await hop.text()}`
  const again = performance.now()
  const second = await fetch(`${frontend}/r/${code}`, {
    redirect: 'manual',
    signal: AbortSignal.timeout(5000),
  }).catch((error: unknown) => ({ status: String(error) }))
  const secondLine = `second GET: ${second.status} in ${(performance.now() - again).toFixed(0)} ms`
  // A handler that finished after the gateway gave up logs meanwhile.
  await sleep(6000)
  const logs = await compose([
    'logs',
    '--no-color',
    '--tail=80',
    'frontend',
    'api-gateway',
    'url-service',
    'worker',
    'localstack',
  ])
  const events = await podman([
    'events',
    '--since',
    new Date(asked.getTime() - 15_000).toISOString(),
    '--until',
    new Date().toISOString(),
    '--filter',
    'type=container',
    '--format',
    '{{.Time}} {{.Status}} {{.Name}}',
  ])
  const churn = events.stdout
    .split('\n')
    .filter((line) => / (start|died|restart) /.test(line))
    .map((line) => line.replace(/^\S+ (\S+)\S* \S+ \S+/, '$1'))
  const warnings = logs.stdout
    .split('\n')
    .filter((line) => /"level":"(warn|error|fatal)"/.test(line))
    .map((line) => {
      const field = (name: string) => new RegExp(`"${name}":"([^"]*)"`).exec(line)?.[1] ?? ''
      return `${field('service')} ${field('time')} ${field('msg')}: ${field('message')}`
    })
  return [
    logs.stdout,
    `asked at ${asked.toISOString()}; ${answer}`,
    secondLine,
    `containers started or stopped from 15 s before: ${churn.join('; ') || 'none'}`,
    ...warnings.slice(-12),
  ].join('\n')
}

async function psql(sql: string): Promise<string> {
  const out = await podmanOk([
    'exec',
    `${project}_postgres_1`,
    'psql',
    '-U',
    'postgres',
    '-d',
    'urls',
    '-tAc',
    sql,
  ])
  return out.trim()
}

t.before(async () => {
  await ensurePodman((line) => t.comment(line))
  for (const name of SERVICES) {
    if (!(await imageExists(imageName(name)))) {
      throw new Error(`no image ${imageName(name)}: run \`pnpm images\` first`)
    }
    // The names docker-compose.yml gives the images it would build.
    await podmanOk(['tag', imageName(name), `zero-trust-eks/${name}:local`])
  }
  await ensureComposeStandins((line) => t.comment(line))
  if (!(await isPortFree(3000))) {
    throw new Error(
      '127.0.0.1:3000 is in use (a `pnpm dev`?); the compose stack publishes the frontend there',
    )
  }
  const dir = await mkdtemp(join(tmpdir(), 'zt-compose-'))
  const socket = join(dir, 'podman.sock')
  service = spawn('podman', ['system', 'service', '--time=0', `unix://${socket}`], {
    stdio: 'ignore',
  })
  t.teardown(async () => {
    service?.kill('SIGTERM')
    await rm(dir, { recursive: true, force: true })
  })
  for (let i = 0; i < 100 && !existsSync(socket); i++) await sleep(100)
  env = { ...process.env, DOCKER_HOST: `unix://${socket}`, COMPOSE_HTTP_TIMEOUT: '300' }
  // A stack left by an interrupted run.
  await compose(['down', '-v', '--remove-orphans'])
})

t.teardown(async () => {
  stopHealth = true
  await healthLoop
})

t.test('docker compose up: a link, its redirect, the click counted, then down -v', async (t) => {
  const started = Date.now()
  healthLoop = driveHealthchecks()
  t.teardown(async () => {
    const down = await compose(['down', '-v', '--remove-orphans'])
    t.comment(`down -v: exit ${down.status}`)
  })
  const up = await compose(['up', '-d', '--no-build'], 8 * 60_000)
  if (up.status !== 0) {
    t.comment(up.stderr.slice(-3000))
    const logs = await compose(['logs', '--no-color', '--tail=30'])
    t.comment(logs.stdout)
    // How each container ended: a crash, the kernel's OOM killer and a
    // restart look alike in the logs above.
    const ids = await podman([
      'ps',
      '-a',
      '--filter',
      `label=com.docker.compose.project=${project}`,
      '--format',
      '{{.ID}}',
    ])
    const ended = await podman([
      'inspect',
      ...ids.stdout.split('\n').filter(Boolean),
      '--format',
      '{{.Name}} {{.State.Status}} exit={{.State.ExitCode}} oom={{.State.OOMKilled}} restarts={{.RestartCount}} {{.State.Error}}',
    ])
    t.comment(ended.stdout + ended.stderr)
  }
  t.equal(up.status, 0, `docker-compose up -d (${((Date.now() - started) / 1000).toFixed(0)} s)`)
  if (up.status !== 0) return

  const states = await podman([
    'ps',
    '-a',
    '--filter',
    `label=com.docker.compose.project=${project}`,
    '--format',
    '{{.Names}} {{.Status}}',
  ])
  t.comment(states.stdout)
  t.match(
    states.stdout,
    new RegExp(`${project}_migrate_1 Exited \\(0\\)`),
    'the migration ran to completion',
  )

  // Nothing on the public network draws an address on demand: podman's
  // allocator counts up across runs, and once handed the api-gateway the
  // frontend's fixed .10, so the frontend could not start.
  const gatewayIp = await podman([
    'inspect',
    `${project}_api-gateway_1`,
    '--format',
    `{{(index .NetworkSettings.Networks "${project}_public").IPAddress}}`,
  ])
  t.equal(gatewayIp.stdout.trim(), '172.30.80.20', 'the api-gateway has its fixed public address')

  // A lost DNS answer costs these services 1 s, not glibc's 5 s: longer than
  // the gateway's budget for a call (docs/containers.md, "Networks").
  for (const name of ['api-gateway', 'url-service']) {
    const resolver = await podman([
      'exec',
      `${project}_${name}_1`,
      '/nodejs/bin/node',
      '-e',
      "process.stdout.write(require('node:fs').readFileSync('/etc/resolv.conf','utf8'))",
    ])
    t.match(
      resolver.stdout,
      /^options .*\btimeout:1\b/m,
      `${name}'s resolver asks again after 1 s without an answer`,
    )
  }

  // `up -d` returns once the frontend's dependencies are healthy; the worker
  // is none of them. Wait for it too, so the click's time below is the
  // event's path, not a loaded machine starting a container.
  let worker = ''
  for (let i = 0; i < 120 && worker !== 'healthy'; i++) {
    if (i > 0) await sleep(1000)
    const out = await podman([
      'inspect',
      `${project}_worker_1`,
      '--format',
      '{{.State.Health.Status}}',
    ])
    worker = out.stdout.trim()
  }
  t.equal(worker, 'healthy', 'the worker is healthy')

  // The frontend is published on 127.0.0.1:3000 only; wait for it to answer.
  let created: Response | undefined
  const target = `https://example.com/compose/${Date.now()}`
  for (let i = 0; i < 60; i++) {
    created = await fetch(`${frontend}/api/urls`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ url: target }),
      signal: AbortSignal.timeout(5000),
    }).catch(() => undefined)
    if (created?.status === 201) break
    await sleep(1000)
  }
  t.equal(created?.status, 201, 'POST /api/urls through the published frontend')
  const { code } = ((await created?.json()) ?? {}) as { code?: string }
  const asked = new Date()
  const hop = await fetch(`${frontend}/r/${code}`, {
    redirect: 'manual',
    signal: AbortSignal.timeout(5000),
  })
  if (hop.status !== 302) t.comment(await explainFailedRedirect(hop, code ?? '', asked))
  t.equal(hop.status, 302, 'the short link redirects')
  t.equal(hop.headers.get('location'), target, 'to the URL it was made for')

  let clicks = ''
  const clickStarted = Date.now()
  // The outbox relay and the worker back off after a failed call (up to
  // tens of seconds); a click can wait out one such back-off. Logs are shown
  // when it takes longer than a healthy path's few seconds.
  while (Date.now() - clickStarted < 60_000) {
    clicks = await psql(`select clicks from urls where code = '${code}'`)
    if (clicks === '1') break
    await sleep(500)
  }
  if (clicks !== '1' || Date.now() - clickStarted > 5000) {
    const logs = await compose([
      'logs',
      '--no-color',
      '--tail=60',
      'url-service',
      'worker',
      'localstack',
    ])
    t.comment(logs.stdout)
  }
  t.equal(
    clicks,
    '1',
    `the worker counted the click in PostgreSQL (${((Date.now() - clickStarted) / 1000).toFixed(1)} s)`,
  )

  t.equal(
    await psql(
      `select rolsuper::text || rolcreatedb::text || rolcreaterole::text from pg_roles where rolname = 'zt_app'`,
    ),
    'falsefalsefalse',
    "initdb.d's hook made zt_app, with no superuser, createdb or createrole rights",
  )
  t.equal(
    await psql(`select pg_get_userbyid(datdba) from pg_database where datname = 'urls'`),
    'zt_app',
    'zt_app owns the urls database',
  )
  t.equal(
    await psql(
      `select string_agg(distinct usename, ',') from pg_stat_activity where datname = 'urls' and usename <> 'postgres'`,
    ),
    'zt_app',
    'the services are logged in as zt_app, with the password LocalStack’s secret holds',
  )
  t.comment(`stack up and checked in ${((Date.now() - started) / 1000).toFixed(0)} s`)

  const down = await compose(['down', '-v', '--remove-orphans'])
  t.equal(down.status, 0, 'docker-compose down -v')
  const left = await Promise.all([
    podman(['ps', '-aq', '--filter', `label=com.docker.compose.project=${project}`]),
    podman(['volume', 'ls', '-q', '--filter', `label=com.docker.compose.project=${project}`]),
    podman(['network', 'ls', '-q', '--filter', `label=com.docker.compose.project=${project}`]),
  ])
  t.same(
    left.map((r) => r.stdout.trim()),
    ['', '', ''],
    'no container, volume or network of the project is left',
  )
})
