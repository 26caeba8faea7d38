/**
 * Extracts the pinned helm binary into charts/.tools/ (see src/install-helm.ts).
 * Idempotent: skips when .tools/helm already reports the expected version.
 */
import { helmPath, toolsDir } from '../src/helm.js'
import { installHelm } from '../src/install-helm.js'

const { version, extracted } = installHelm(toolsDir)
if (extracted) console.log(`helm ${version} extracted to ${helmPath}`)
else if (!process.argv.includes('--quiet')) console.log(`helm ${version} already at ${helmPath}`)
