/**
 * Issue 18: the import boundaries in biome.json hold. Each probe is a one-line
 * file at a real path, linted with the repository's biome.json in a temporary
 * copy of that path, so the working tree is never touched.
 */
import { spawnSync } from 'node:child_process'
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import t from 'tap'

const root = join(import.meta.dirname, '..', '..')
const biome = join(root, 'node_modules', '.bin', 'biome')

interface Probe {
  path: string
  from: string
  restricted: boolean
  why: string
}

const probes: Probe[] = [
  // url-service: the worker and the API side stay apart.
  {
    path: 'services/url-service/src/worker/probe-routes.ts',
    from: '../routes/urls.js',
    restricted: true,
    why: 'a worker module imports the API routes',
  },
  {
    path: 'services/url-service/src/worker/probe-store.ts',
    from: '../store.js',
    restricted: true,
    why: 'a worker module imports the API store',
  },
  {
    path: 'services/url-service/src/worker/probe-index.ts',
    from: '@zt/url-service',
    restricted: true,
    why: "a worker module imports the package's entry (the API side)",
  },
  {
    path: 'services/url-service/src/worker.ts',
    from: './app.js',
    restricted: true,
    why: "the worker's entry point imports the API app",
  },
  {
    path: 'services/url-service/src/worker/probe-db.ts',
    from: '../db/database.js',
    restricted: false,
    why: 'a worker module imports db/ (shared)',
  },
  {
    path: 'services/url-service/src/worker/probe-events.ts',
    from: '../events/outbox.js',
    restricted: false,
    why: 'a worker module imports events/ (shared)',
  },
  {
    path: 'services/url-service/src/worker/probe-config.ts',
    from: '../config.js',
    restricted: false,
    why: 'a worker module imports config (shared)',
  },
  {
    path: 'services/url-service/src/routes/probe-worker.ts',
    from: '../worker/consumer.js',
    restricted: true,
    why: 'an API route imports the worker',
  },
  {
    path: 'services/url-service/src/app.ts',
    from: './worker.js',
    restricted: true,
    why: "the API app imports the worker's entry point",
  },
  {
    path: 'services/url-service/src/service.ts',
    from: './events/relay.js',
    restricted: false,
    why: 'the API service imports events/ (shared)',
  },
  // Services do not import each other.
  {
    path: 'services/frontend/src/probe.ts',
    from: '@zt/url-service',
    restricted: true,
    why: 'the frontend imports url-service by package name',
  },
  {
    path: 'services/api-gateway/src/probe.ts',
    from: '../../url-service/src/store.js',
    restricted: true,
    why: "the api-gateway imports url-service's source by path",
  },
  {
    path: 'services/url-service/test/probe.test.ts',
    from: '@zt/api-gateway',
    restricted: true,
    why: "url-service's tests import the api-gateway",
  },
  {
    path: 'services/api-gateway/src/probe-client.ts',
    from: '../url-service-client.js',
    restricted: false,
    why: "the api-gateway imports its own url-service client (a name, not the service's code)",
  },
  {
    path: 'services/frontend/src/probe-kit.ts',
    from: '@zt/service-kit',
    restricted: false,
    why: 'a service imports a shared package',
  },
  // The one way across: a test starts a neighbour through its testing entry,
  // and production code never does.
  {
    path: 'services/frontend/test/helpers/chain.ts',
    from: '@zt/api-gateway/testing',
    restricted: false,
    why: "the frontend's tests start the gateway's chain through its testing entry",
  },
  {
    path: 'services/api-gateway/test/probe.test.ts',
    from: '@zt/url-service/testing',
    restricted: false,
    why: "the api-gateway's tests start url-service through its testing entry",
  },
  {
    path: 'services/api-gateway/src/testing.ts',
    from: '@zt/url-service/testing',
    restricted: false,
    why: "the api-gateway's testing entry builds on url-service's",
  },
  {
    path: 'services/frontend/src/probe-testing.ts',
    from: '@zt/api-gateway/testing',
    restricted: true,
    why: "the frontend's production code imports the gateway's testing entry",
  },
  {
    path: 'services/api-gateway/src/probe-testing.ts',
    from: '@zt/url-service/testing',
    restricted: true,
    why: "the api-gateway's production code imports url-service's testing entry",
  },
  {
    path: 'services/url-service/test/probe-testing.test.ts',
    from: '@zt/api-gateway/testing',
    restricted: true,
    why: 'url-service starts no neighbour: its tests need none (and that would be a cycle)',
  },
  {
    path: 'services/frontend/test/helpers/chain.ts',
    from: '@zt/api-gateway',
    restricted: true,
    why: "a test imports the gateway's package name instead of its testing entry",
  },
  {
    path: 'services/frontend/test/helpers/other.ts',
    from: '../../../url-service/src/store.js',
    restricted: true,
    why: "a frontend test reaches into url-service's source",
  },
  {
    path: 'services/api-gateway/test/probe.test.ts',
    from: '@zt/url-service/src/store.js',
    restricted: true,
    why: "an api-gateway test reaches past url-service's testing entry",
  },
]

const dir = mkdtempSync(join(tmpdir(), 'zt-boundaries-'))
t.teardown(() => rmSync(dir, { recursive: true, force: true }))
copyFileSync(join(root, 'biome.json'), join(dir, 'biome.json'))
// One file per path, one import per probe: the probe's place is `path:line`.
const files = new Map<string, Probe[]>()
for (const probe of probes) files.set(probe.path, [...(files.get(probe.path) ?? []), probe])
const place = new Map<Probe, string>()
for (const [path, here] of files) {
  const file = join(dir, path)
  mkdirSync(dirname(file), { recursive: true })
  const lines = here.map((probe, i) => {
    place.set(probe, `${path}:${i + 1}`)
    return `import { probe${i} } from '${probe.from}'`
  })
  const used = here.map((_, i) => `probe${i}`).join(', ')
  writeFileSync(file, `${lines.join('\n')}\n\nexport const used = [${used}]\n`)
}
// No git repository in the copy; the rule under test is the only interest.
const lint = spawnSync(
  biome,
  ['lint', '--vcs-enabled=false', '--max-diagnostics=none', '--colors=off', '.'],
  { cwd: dir, encoding: 'utf8' },
)
const output = `${lint.stdout}${lint.stderr}`
const flagged = new Set(
  [...output.matchAll(/^(\S+\.ts:\d+):\d+ lint\/style\/noRestrictedImports/gm)].map(
    (match) => match[1] ?? '',
  ),
)

t.equal(lint.error, undefined, 'biome ran')
t.equal(lint.status, 1, 'restricted imports fail the lint')
for (const probe of probes) {
  t.equal(
    flagged.has(place.get(probe) ?? ''),
    probe.restricted,
    `${probe.restricted ? 'fails' : 'passes'}: ${probe.why} (${probe.path}: '${probe.from}')`,
  )
}
const placed = new Set(place.values())
t.same(
  [...flagged].filter((where) => !placed.has(where)),
  [],
  'nothing else is flagged',
)
