/**
 * Stand-ins for the two third-party images docker-compose.yml pulls
 * (postgres:17-bookworm, localstack/localstack:4.14.0), which no registry
 * serves here. compose.override.yml swaps them in and nothing else.
 *
 * Both start from one Debian bookworm tree (mmdebstrap: the essential set,
 * PostgreSQL 15 from apt with its client tools, python3 for LocalStack's
 * healthcheck), built once per machine like the base stand-ins.
 */
import { existsSync } from 'node:fs'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { repoRoot } from '../src/root.js'
import { ensureBases } from './bases.js'
import { imageExists, podman, podmanOk, run } from './podman.js'

const RECIPE = '1'
const RECIPE_LABEL = 'org.zero-trust-eks.standin-recipe'
export const COMPOSE_BASE = 'localhost/zt-standin/compose-debian:bookworm'
export const POSTGRES_STANDIN = 'localhost/zt-standin/postgres:17-bookworm'
export const LOCALSTACK_STANDIN = 'localhost/zt-standin/localstack:4.14.0'
const standinsDir = join(repoRoot, 'e2e/containers/standins')

async function composeBase(log: (line: string) => void): Promise<void> {
  if (await imageExists(COMPOSE_BASE)) {
    const label = await podman([
      'image',
      'inspect',
      COMPOSE_BASE,
      '--format',
      `{{index .Labels "${RECIPE_LABEL}"}}`,
    ])
    if (label.stdout.trim() === RECIPE) return
  }
  log(`${COMPOSE_BASE}: Debian bookworm (mmdebstrap, essential) + postgresql-15, python3`)
  const work = await mkdtemp(
    existsSync('/dev/shm') ? '/dev/shm/zt-standin-' : '/var/tmp/zt-standin-',
  )
  try {
    const rootfs = join(work, 'rootfs')
    const strap = await run(
      'mmdebstrap',
      [
        '--variant=essential',
        '--include=libstdc++6,python3,postgresql-15',
        '--dpkgopt=force-unsafe-io',
        '--quiet',
        // The package's own cluster is not the image's: the entrypoint makes one in PGDATA.
        '--customize-hook=rm -rf "$1"/var/lib/postgresql/15 "$1"/etc/postgresql/15',
        'bookworm',
        rootfs,
        'deb http://deb.debian.org/debian bookworm main',
        'deb http://deb.debian.org/debian bookworm-updates main',
        'deb http://deb.debian.org/debian-security bookworm-security main',
      ],
      { env: { ...process.env, TMPDIR: '/dev/shm' }, timeoutMs: 600_000 },
    )
    if (strap.status !== 0) throw new Error(`mmdebstrap failed:\n${strap.stderr}`)
    const tarball = join(work, 'rootfs.tar')
    const tar = await run('tar', ['--numeric-owner', '-C', rootfs, '-cf', tarball, '.'], {
      timeoutMs: 300_000,
    })
    if (tar.status !== 0) throw new Error(`tar failed: ${tar.stderr}`)
    await podmanOk(
      [
        'import',
        '--change',
        'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
        '--change',
        `LABEL ${RECIPE_LABEL}=${RECIPE}`,
        tarball,
        COMPOSE_BASE,
      ],
      { timeoutMs: 300_000 },
    )
  } finally {
    await rm(work, { recursive: true, force: true })
  }
}

/** Builds (or reuses, through podman's layer cache) the two stand-ins. */
export async function ensureComposeStandins(log: (line: string) => void): Promise<void> {
  await composeBase(log)
  const build = async (image: string, containerfile: string, context: string, args: string[]) => {
    const result = await podman(
      [
        'build',
        '--network',
        'none',
        '--pull=never',
        '--layers',
        ...args,
        '-f',
        containerfile,
        '-t',
        image,
        context,
      ],
      { timeoutMs: 600_000 },
    )
    if (result.status !== 0)
      throw new Error(`building ${image} failed:\n${result.stdout}${result.stderr}`)
    log(`${image}: built`)
  }
  await build(
    POSTGRES_STANDIN,
    join(standinsDir, 'postgres/Containerfile'),
    join(standinsDir, 'postgres'),
    ['--build-arg', `BASE=${COMPOSE_BASE}`],
  )

  // devkit's stand-in with its production dependencies only, as a service image gets them.
  const context = await mkdtemp('/var/tmp/zt-localstack-')
  try {
    const deploy = await run(
      'pnpm',
      ['--filter', '@zt/devkit', 'deploy', '--prod', '--legacy', join(context, 'devkit')],
      { cwd: repoRoot, timeoutMs: 300_000 },
    )
    if (deploy.status !== 0) throw new Error(`pnpm deploy @zt/devkit failed:\n${deploy.stderr}`)
    if (!existsSync(join(context, 'devkit/dist/localstack/cli.js'))) {
      throw new Error(
        'packages/devkit is not built: run `pnpm build` (or pnpm --filter @zt/devkit build)',
      )
    }
    await writeFile(
      join(context, 'awslocal'),
      '#!/bin/sh\nexec node /opt/zt-devkit/dist/localstack/awslocal.js "$@"\n',
      { mode: 0o755 },
    )
    const bases = await ensureBases(log)
    await build(LOCALSTACK_STANDIN, join(standinsDir, 'localstack/Containerfile'), context, [
      '--build-arg',
      `BASE=${COMPOSE_BASE}`,
      '--build-arg',
      `NODE_IMAGE=${bases.build}`,
    ])
  } finally {
    await rm(context, { recursive: true, force: true })
  }
}
