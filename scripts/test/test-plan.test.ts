/**
 * Issue 18: `pnpm test` on a machine with Node and pnpm only leaves out,
 * and names, each suite that needs a missing tool; under CI=true the same
 * absence fails the run. No real suite runs here: fake PATHs and the plan.
 */
import { spawnSync } from 'node:child_process'
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import {
  excludeArgs,
  failLine,
  isCi,
  plan,
  SUITES,
  type Suite,
  skipLine,
  summary,
  TOOLS,
  type ToolName,
} from '../test-plan.js'

const root = join(import.meta.dirname, '..', '..')
const asRoot = { root: true }

const scratch = mkdtempSync(join(tmpdir(), 'zt-test-plan-'))
t.teardown(() => rmSync(scratch, { recursive: true, force: true }))

/** A directory for PATH holding executables (or plain files) with these names. */
function binDir(name: string, executables: readonly string[], plain: readonly string[] = []) {
  const dir = join(scratch, name)
  mkdirSync(dir)
  for (const file of executables) {
    writeFileSync(join(dir, file), '#!/bin/sh\nexit 0\n')
    chmodSync(join(dir, file), 0o755)
  }
  for (const file of plain) writeFileSync(join(dir, file), '')
  return dir
}

const empty = binDir('empty', [])
const everything = binDir('everything', ['docker-compose', 'psql', 'openssl', 'podman', 'chromium'])
const noChromium = { PATH: empty, CHROMIUM_PATH: join(empty, 'chromium') }
const ids = (suites: readonly { id: string }[]) => suites.map((suite) => suite.id)
/** Every suite that needs a system tool, in plan order. */
const toolBound = ['browser', 'compose', 'db-tls', 'containers', 'compose-up']

t.test('Node and pnpm only: every tool-bound suite is skipped, by name', async (t) => {
  const p = plan(noChromium, asRoot)
  t.same(p.run, [])
  t.same(p.failed, [], 'not CI: nothing fails for a missing tool')
  t.same(ids(p.skipped.map((s) => s.suite)), toolBound)
  const lines = p.skipped.map((s) => skipLine(s))
  t.equal(
    lines[0],
    'skipped: the browser test (@zt/frontend) needs Chromium; install it (apt-get install chromium, or point CHROMIUM_PATH at a Chromium or Chrome binary) to run it: pnpm --filter @zt/frontend exec tap test/browser.test.ts',
  )
  t.match(
    lines[1],
    /^skipped: the compose and Dockerfile checks \(@zt\/e2e\) needs docker-compose and psql/,
  )
  t.match(
    lines[1],
    /install them \(apt-get install docker-compose; apt-get install postgresql-client\)/,
  )
  t.match(lines[3], /^skipped: the images and the chart's containers \(@zt\/e2e\) needs podman/)
  t.equal(
    summary({ pass: 7, fail: 0 }, p),
    "7 passed, 0 failed, 5 suites skipped: the browser test (@zt/frontend), the compose and Dockerfile checks (@zt/e2e), url-service's database TLS test (@zt/url-service), the images and the chart's containers (@zt/e2e), docker-compose up of the whole system (@zt/e2e)",
  )
})

t.test('only the missing tool skips its suite', async (t) => {
  const withAllButChromium = binDir('all-but-chromium', [
    'docker-compose',
    'psql',
    'openssl',
    'podman',
  ])
  const p = plan({ PATH: withAllButChromium, CHROMIUM_PATH: '/nonexistent/chromium' }, asRoot)
  t.same(ids(p.skipped.map((s) => s.suite)), ['browser'])
  t.same(ids(p.run), ['compose', 'db-tls', 'containers', 'compose-up'])
  t.same(p.skipped[0]?.missing, ['chromium'])
  t.equal(
    summary({ pass: 1, fail: 0 }, p),
    '1 passed, 0 failed, 1 suite skipped: the browser test (@zt/frontend)',
  )
})

t.test('a machine with every tool runs every suite', async (t) => {
  const p = plan({ PATH: everything, CHROMIUM_PATH: join(everything, 'chromium') }, asRoot)
  t.same(ids(p.run), ['browser', 'compose', 'db-tls', 'containers', 'compose-up'])
  t.same(p.skipped, [])
  t.equal(summary({ pass: 3, fail: 1 }, p), '3 passed, 1 failed, 0 suites skipped')
})

t.test('tools are found as a shell finds them', async (t) => {
  const plain = binDir('plain', [], ['psql', 'docker-compose'])
  t.equal(
    TOOLS.psql.find({ PATH: plain }, asRoot),
    undefined,
    'a file that is not executable is not psql',
  )
  t.equal(
    TOOLS.psql.find({ PATH: `${plain}:${everything}` }, asRoot),
    join(everything, 'psql'),
    'PATH is searched in order',
  )
  t.equal(TOOLS.psql.find({}, asRoot), undefined, 'no PATH, no tools')
  t.equal(
    TOOLS.chromium.find({ CHROMIUM_PATH: join(everything, 'chromium'), PATH: empty }, asRoot),
    join(everything, 'chromium'),
  )
  t.equal(
    TOOLS.podman.find({ PATH: everything }, { root: false }),
    undefined,
    'podman runs rootful: a normal user has none usable',
  )
  const p = plan({ PATH: everything, CHROMIUM_PATH: join(everything, 'chromium') }, { root: false })
  t.same(ids(p.skipped.map((s) => s.suite)), ['containers', 'compose-up'])
})

t.test('each tool is looked for once', async (t) => {
  const calls: ToolName[] = []
  const counting = { ...TOOLS }
  for (const name of Object.keys(TOOLS) as ToolName[]) {
    counting[name] = {
      ...TOOLS[name],
      find: () => {
        calls.push(name)
        return undefined
      },
    }
  }
  const twice: Suite[] = [
    {
      id: 'compose',
      name: 'a',
      pkg: '@zt/a',
      files: ['test/a.test.ts'],
      command: 'a',
      needs: ['psql'],
    },
    {
      id: 'db-tls',
      name: 'b',
      pkg: '@zt/b',
      files: ['test/b.test.ts'],
      command: 'b',
      needs: ['psql', 'openssl'],
    },
  ]
  const p = plan({}, asRoot, twice, counting)
  t.same(calls, ['psql', 'openssl'])
  t.same(
    p.skipped.map((s) => s.missing),
    [['psql'], ['psql', 'openssl']],
  )
})

t.test('under CI=true a missing tool fails instead of skipping', async (t) => {
  const p = plan({ ...noChromium, CI: 'true' }, asRoot)
  t.same(p.skipped, [], 'nothing is skipped on CI')
  t.same(ids(p.failed.map((s) => s.suite)), toolBound)
  t.match(
    failLine(p.failed[0]!),
    /^failed: the browser test \(@zt\/frontend\) needs Chromium, missing on this CI machine/,
  )
  t.match(
    summary({ pass: 5, fail: 0 }, p),
    /^5 passed, 0 failed, 5 suites failed for a missing tool: the browser test \(@zt\/frontend\)/,
  )
  t.equal(isCi({ CI: '1' }), true)
  t.equal(isCi({ CI: 'false' }), false)
  t.equal(isCi({ CI: '' }), false)
  t.equal(isCi({}), false)
})

t.test("a skipped suite's files are excluded from its own package only", async (t) => {
  const p = plan(noChromium, asRoot)
  t.same(excludeArgs('@zt/frontend', p.skipped), [
    '--exclude=**/@(fixture*(s)|dist)/**',
    '--exclude=test/browser.test.ts',
  ])
  t.same(
    excludeArgs('@zt/e2e', p.skipped),
    ['--exclude=**/@(fixture*(s)|dist)/**', '--exclude=test/containers.test.ts'],
    'the containers suite is commands, not files: only the compose checks are excluded',
  )
  t.same(
    excludeArgs('@zt/spiffe', p.skipped),
    [],
    'a package with nothing skipped keeps its tap arguments',
  )
  t.same(excludeArgs('@zt/frontend', []), [])
})

t.test('every file a suite names exists in its package', async (t) => {
  const dirs = new Map<string, string>()
  for (const parent of ['packages', 'services']) {
    for (const name of readdirSync(join(root, parent))) {
      const manifest = join(root, parent, name, 'package.json')
      if (existsSync(manifest))
        dirs.set(JSON.parse(readFileSync(manifest, 'utf8')).name, join(root, parent, name))
    }
  }
  for (const name of ['e2e', 'charts', 'infra']) {
    dirs.set(
      JSON.parse(readFileSync(join(root, name, 'package.json'), 'utf8')).name,
      join(root, name),
    )
  }
  for (const suite of SUITES) {
    const dir = dirs.get(suite.pkg)
    t.ok(dir, `${suite.pkg} is a workspace package`)
    for (const file of suite.files ?? [])
      t.ok(existsSync(join(dir ?? '', file)), `${suite.pkg}: ${file}`)
  }
})

t.test("test-all's plan, as `pnpm test` prints it (ZT_TEST_PLAN_ONLY=1)", async (t) => {
  const run = (env: NodeJS.ProcessEnv) =>
    spawnSync(process.execPath, ['--conditions=zt-source', '--import=tsx', 'scripts/test-all.ts'], {
      cwd: root,
      encoding: 'utf8',
      env: { ...noChromium, ZT_TEST_PLAN_ONLY: '1', ...env },
      timeout: 60_000,
    })
  const laptop = run({})
  t.equal(laptop.status, 0, laptop.stderr)
  t.match(
    laptop.stdout,
    /^test: skipped: the browser test \(@zt\/frontend\) needs Chromium; install it \(/m,
  )
  t.match(
    laptop.stdout,
    /^0 passed, 0 failed, 5 suites skipped: the browser test \(@zt\/frontend\), /m,
  )
  const ci = run({ CI: 'true' })
  t.equal(ci.status, 1, 'CI fails on a missing tool')
  t.match(
    ci.stdout,
    /^test: failed: the browser test \(@zt\/frontend\) needs Chromium, missing on this CI machine/m,
  )
  t.notMatch(ci.stdout, /skipped: the/)
})
