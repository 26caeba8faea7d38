import { dirname, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

/** The repository root, two levels above this file (e2e/src). */
export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..')
