/**
 * `pnpm images`: builds the three images from the real Dockerfile with
 * podman, as localhost/zero-trust-eks/<service>, writes a CycloneDX SBOM of
 * each to artifacts/images/<service>.cdx.json and prints their sizes.
 *
 * Configures podman first (packages, a containers.conf drop-in) and builds
 * the base-image stand-ins once per machine (bases.ts), because no image
 * registry is reachable here. The pnpm store is a cache mount shared by the
 * three builds, so only the first one downloads packages.
 *
 *   pnpm images                       # all three
 *   pnpm images -- url-service        # one
 */
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { repoRoot } from '../src/root.js'
import { ensureBases } from './bases.js'
import { ensurePodman, podman, podmanOk } from './podman.js'
import { crossCheckWithPnpm, imageSbom } from './sbom.js'

export const SERVICES = ['frontend', 'api-gateway', 'url-service'] as const
export type Service = (typeof SERVICES)[number]
export const imageName = (service: string) => `localhost/zero-trust-eks/${service}`
export const artifactsDir = join(repoRoot, 'artifacts/images')

const log = (line: string) => console.log(`images: ${line}`)

function megabytes(bytes: number): string {
  return `${(bytes / 1e6).toFixed(1)} MB`
}

export interface BuiltImage {
  service: Service
  image: string
  id: string
  bytes: number
  seconds: number
  packages: number
  nodeVersion: string
}

/** Builds one image; `echo` streams podman's output (a first build is long). */
async function build(service: Service, bases: { build: string; runtime: string }): Promise<number> {
  const started = Date.now()
  const result = await podman(
    [
      'build',
      // DNS from podman's bridge fails during builds here; the host's works.
      '--network',
      'host',
      '--pull=never',
      '--layers',
      '--build-arg',
      `BUILD_IMAGE=${bases.build}`,
      '--build-arg',
      `RUNTIME_IMAGE=${bases.runtime}`,
      '--build-arg',
      `SERVICE=${service}`,
      '-f',
      'Dockerfile',
      '-t',
      imageName(service),
      '.',
    ],
    { cwd: repoRoot, timeoutMs: 15 * 60_000, echo: `  ${service} |` },
  )
  if (result.status !== 0) {
    throw new Error(`building ${imageName(service)} failed (exit ${result.status}); output above`)
  }
  return (Date.now() - started) / 1000
}

export async function buildImages(services: readonly Service[] = SERVICES): Promise<BuiltImage[]> {
  const started = Date.now()
  await ensurePodman(log)
  const bases = await ensureBases(log)
  log(
    `bases: ${bases.build} and ${bases.runtime} stand in for ${bases.pinned.build} and ${bases.pinned.runtime}`,
  )
  await mkdir(artifactsDir, { recursive: true })
  const built: BuiltImage[] = []
  for (const service of services) {
    log(`building ${imageName(service)} from Dockerfile with SERVICE=${service}`)
    const seconds = await build(service, bases)
    const sbom = await imageSbom(imageName(service))
    await writeFile(
      join(artifactsDir, `${service}.cdx.json`),
      `${JSON.stringify(sbom.bom, null, 2)}\n`,
    )
    log(await crossCheckWithPnpm(service, sbom.bom, repoRoot))
    const [id, size] = (
      await podmanOk(['image', 'inspect', imageName(service), '--format', '{{.Id}} {{.Size}}'])
    )
      .trim()
      .split(' ')
    built.push({
      service,
      image: imageName(service),
      id: id ?? '',
      bytes: Number(size),
      seconds,
      packages: sbom.packages.length,
      nodeVersion: sbom.nodeVersion,
    })
    log(
      `${imageName(service)} built in ${seconds.toFixed(0)} s, SBOM: artifacts/images/${service}.cdx.json`,
    )
  }
  const runtime = Number(
    (await podmanOk(['image', 'inspect', bases.runtime, '--format', '{{.Size}}'])).trim(),
  )
  await writeFile(
    join(artifactsDir, 'summary.json'),
    `${JSON.stringify({ bases, runtimeBaseBytes: runtime, images: built }, null, 2)}\n`,
  )
  console.log(
    '\nimage                                   size      of which app  npm packages  node',
  )
  for (const image of built) {
    console.log(
      `${image.image.padEnd(40)}${megabytes(image.bytes).padEnd(10)}${megabytes(image.bytes - runtime).padEnd(14)}${String(image.packages).padEnd(14)}${image.nodeVersion}`,
    )
  }
  console.log(
    `(runtime base stand-in: ${megabytes(runtime)}; sizes are podman's uncompressed sizes)`,
  )
  log(`done in ${((Date.now() - started) / 1000).toFixed(0)} s`)
  return built
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const wanted = process.argv.slice(2).filter((arg) => arg !== '--')
  const unknown = wanted.filter((s) => !(SERVICES as readonly string[]).includes(s))
  if (unknown.length > 0) {
    console.error(`unknown service ${unknown.join(', ')}; one of ${SERVICES.join(', ')}`)
    process.exit(2)
  }
  await buildImages(wanted.length > 0 ? (wanted as Service[]) : SERVICES)
}
