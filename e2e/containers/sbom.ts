/**
 * A CycloneDX 1.5 SBOM of what an image really holds: every npm package
 * under /app/node_modules (read from the image's own files, so it is what
 * `pnpm deploy --prod` put there, nothing from the lockfile that did not
 * ship), the service itself, and the Node runtime. The base image's Debian
 * packages are left out: here the base is a stand-in, and an SBOM of the
 * stand-in would describe an image that never ships.
 */
import { randomUUID } from 'node:crypto'
import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { podman, podmanOk } from './podman.js'

export interface Package {
  name: string
  version: string
  license?: string
}

interface PackageJson {
  name?: unknown
  version?: unknown
  license?: unknown
}

async function readPackageJson(path: string): Promise<PackageJson | undefined> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as PackageJson
  } catch {
    return undefined
  }
}

/**
 * Every package root below `dir`: a folder named like its package.json's
 * `name` right under a node_modules (so a `dist/esm/package.json` that only
 * sets "type" is not mistaken for a package). pnpm's layout keeps each
 * package once under node_modules/.pnpm; symlinks are not followed.
 */
export async function findPackages(dir: string): Promise<Package[]> {
  const found = new Map<string, Package>()
  const visit = async (path: string, depth: number): Promise<void> => {
    if (depth > 12) return
    let entries: import('node:fs').Dirent[]
    try {
      entries = await readdir(path, { withFileTypes: true })
    } catch {
      return
    }
    const pkg = entries.some((e) => e.isFile() && e.name === 'package.json')
      ? await readPackageJson(join(path, 'package.json'))
      : undefined
    if (typeof pkg?.name === 'string' && typeof pkg.version === 'string') {
      if (path.endsWith(`/node_modules/${pkg.name}`)) {
        const license = typeof pkg.license === 'string' ? pkg.license : undefined
        found.set(`${pkg.name}@${pkg.version}`, {
          name: pkg.name,
          version: pkg.version,
          ...(license ? { license } : {}),
        })
      }
    }
    for (const entry of entries) {
      if (entry.isDirectory()) await visit(join(path, entry.name), depth + 1)
    }
  }
  await visit(dir, 0)
  return [...found.values()].sort((a, b) =>
    `${a.name}@${a.version}`.localeCompare(`${b.name}@${b.version}`),
  )
}

export function purl(pkg: Package): string {
  const [scope, name] = pkg.name.startsWith('@') ? pkg.name.split('/', 2) : [undefined, pkg.name]
  const path = scope ? `${encodeURIComponent(scope)}/${name}` : (name ?? pkg.name)
  return `pkg:npm/${path}@${encodeURIComponent(pkg.version)}`
}

function licenses(license: string | undefined) {
  if (!license) return undefined
  // A single SPDX identifier is an id; anything else (OR, AND, parentheses) an expression.
  return /^[A-Za-z0-9.+-]+$/.test(license)
    ? [{ license: { id: license } }]
    : [{ expression: license }]
}

function component(pkg: Package, type = 'library') {
  const scoped = pkg.name.startsWith('@')
  const lic = licenses(pkg.license)
  return {
    type,
    'bom-ref': purl(pkg),
    ...(scoped ? { group: pkg.name.split('/')[0] } : {}),
    name: scoped ? (pkg.name.split('/')[1] ?? pkg.name) : pkg.name,
    version: pkg.version,
    purl: purl(pkg),
    ...(lic ? { licenses: lic } : {}),
  }
}

export interface ImageSbom {
  /** The CycloneDX document. */
  bom: Record<string, unknown>
  packages: Package[]
  nodeVersion: string
}

/** Mounts the image read-only through podman, reads /app, unmounts. */
export async function imageSbom(image: string): Promise<ImageSbom> {
  const id = (await podmanOk(['image', 'inspect', image, '--format', '{{.Id}}'])).trim()
  const mount = (await podmanOk(['image', 'mount', image])).trim()
  let app: PackageJson | undefined
  let packages: Package[]
  try {
    app = await readPackageJson(join(mount, 'app/package.json'))
    packages = await findPackages(join(mount, 'app/node_modules'))
  } finally {
    await podman(['image', 'unmount', image])
  }
  // The runtime's version from the runtime itself, with no network: also a
  // first check that the image's ENTRYPOINT starts.
  const version = await podmanOk(['run', '--rm', '--network', 'none', image, '--version'])
  const nodeVersion = version.trim().replace(/^v/, '')
  if (typeof app?.name !== 'string' || typeof app.version !== 'string') {
    throw new Error(`${image}: /app/package.json has no name and version`)
  }
  const self: Package = {
    name: app.name,
    version: app.version,
    ...(typeof app.license === 'string' ? { license: app.license } : {}),
  }
  const bom = {
    bomFormat: 'CycloneDX',
    specVersion: '1.5',
    serialNumber: `urn:uuid:${randomUUID()}`,
    version: 1,
    metadata: {
      timestamp: new Date().toISOString(),
      tools: {
        components: [{ type: 'application', name: 'zero-trust-eks e2e/containers/sbom.ts' }],
      },
      component: {
        type: 'container',
        'bom-ref': image,
        name: image,
        version: id,
        components: [component(self, 'application')],
      },
    },
    components: [
      {
        type: 'platform',
        'bom-ref': `pkg:generic/node@${nodeVersion}`,
        name: 'node',
        version: nodeVersion,
        purl: `pkg:generic/node@${nodeVersion}`,
        description: 'the Node.js runtime at /nodejs/bin/node',
      },
      ...packages.filter((p) => p.name !== self.name).map((p) => component(p)),
    ],
  }
  return { bom, packages, nodeVersion }
}

/** `group/name@version` of each npm component, the key both SBOMs share. */
function keys(bom: {
  components?: { group?: string; name: string; version?: string; purl?: string }[]
}) {
  return new Set(
    (bom.components ?? [])
      .filter((c) => c.purl?.startsWith('pkg:npm/'))
      .map((c) => `${c.group ? `${c.group}/` : ''}${c.name}@${c.version ?? ''}`),
  )
}

/**
 * pnpm 11's `pnpm sbom` (the lockfile's view of the same deploy), when the
 * pnpm at hand has it: every package it names must be in the image and the
 * other way round. Returns a line for the log either way.
 */
export async function crossCheckWithPnpm(
  service: string,
  imageBom: Record<string, unknown>,
  cwd: string,
  pnpm = process.env.ZT_SBOM_PNPM ?? 'pnpm',
): Promise<string> {
  const { run } = await import('./podman.js')
  const result = await run(
    pnpm,
    [
      '--config.pmOnFail=ignore',
      'sbom',
      '--sbom-format',
      'cyclonedx',
      '--prod',
      '--filter',
      `@zt/${service}`,
    ],
    { cwd, timeoutMs: 120_000 },
  ).catch((error: unknown) => ({ status: 1, stdout: '', stderr: String(error) }))
  if (result.status !== 0 || !result.stdout.trim().startsWith('{')) {
    return `${service}: no pnpm sbom here (pnpm < 11; ZT_SBOM_PNPM names another), cross-check skipped`
  }
  const fromPnpm = keys(JSON.parse(result.stdout))
  const fromImage = keys(imageBom as Parameters<typeof keys>[0])
  const missing = [...fromPnpm].filter((k) => !fromImage.has(k))
  const extra = [...fromImage].filter((k) => !fromPnpm.has(k))
  // The image may hold more than the lockfile's --prod view: pnpm deploy also
  // installs optional peers that resolved (url-service ships @types/pg, a
  // peer of node-pg-migrate), which pnpm sbom leaves out. Only a package the
  // image SBOM misses is an error.
  if (missing.length > 0) {
    throw new Error(
      `${service}: pnpm sbom names packages the image SBOM does not: ${missing.join(', ')}`,
    )
  }
  if (extra.length > 0) {
    return `${service}: the image holds every package pnpm sbom names (${fromPnpm.size}), and also ${extra.join(', ')}, which pnpm sbom --prod leaves out`
  }
  return `${service}: pnpm sbom names the same ${fromPnpm.size} npm packages as the image`
}
