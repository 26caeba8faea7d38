/** `pnpm build`: the UI bundle for the image, next to the compiled server. */
import { mkdir, rm } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import { buildWebAssets } from '../src/assets.js'

const outDir = fileURLToPath(new URL('../dist/public/', import.meta.url))
await rm(outDir, { recursive: true, force: true })
await mkdir(outDir, { recursive: true })
await buildWebAssets(outDir)
console.log(`web assets written to ${outDir}`)
