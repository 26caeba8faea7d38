import { copyFile, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

const webDir = fileURLToPath(new URL('../web/', import.meta.url))

/** Files of the UI served as they are, next to the compiled script and styles. */
const copied = ['index.html', 'favicon.svg']

/**
 * Compiles web/ (TypeScript and CSS, no third-party code) into outDir. Used
 * by the build for the image, and at start-up when running from source.
 */
export async function buildWebAssets(outDir: string): Promise<void> {
  // Only a build or a source run needs esbuild; the image never loads it.
  const { build } = await import('esbuild')
  await build({
    entryPoints: [join(webDir, 'app.ts'), join(webDir, 'styles.css')],
    outdir: outDir,
    bundle: true,
    minify: true,
    format: 'esm',
    target: ['es2022', 'chrome110', 'firefox115', 'safari16'],
    logLevel: 'silent',
  })
  await Promise.all(copied.map((name) => copyFile(join(webDir, name), join(outDir, name))))
}

export interface Assets {
  /** Directory @fastify/static serves. */
  readonly root: string
  dispose(): Promise<void>
}

/**
 * Compiled (dist/server.js) the UI comes from dist/public, built with the
 * image. From source (tsx, tests, pnpm dev) it is compiled fresh into a
 * temporary directory, so an edit never meets a stale bundle and a clean
 * clone needs no build step.
 */
export async function prepareAssets(): Promise<Assets> {
  if (!import.meta.url.endsWith('.ts')) {
    return { root: fileURLToPath(new URL('./public/', import.meta.url)), dispose: async () => {} }
  }
  const root = await mkdtemp(join(tmpdir(), 'zt-frontend-'))
  try {
    await buildWebAssets(root)
  } catch (error) {
    await rm(root, { recursive: true, force: true })
    throw error
  }
  return { root, dispose: () => rm(root, { recursive: true, force: true }) }
}
