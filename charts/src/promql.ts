/**
 * Which metric names the chart's PromQL (alert rules, dashboard panels)
 * refers to, and which ones the services really define, so that a rule can
 * not watch a metric nobody exports. Without promtool on the machine this is
 * the check that runs on every test: it reads the source, not a list.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { packageDir } from './helm.js'

const repoDir = join(packageDir, '..')

/** PromQL words that are not metric names when not followed by `(`. */
const keywords = new Set([
  'by',
  'without',
  'on',
  'ignoring',
  'group_left',
  'group_right',
  'and',
  'or',
  'unless',
  'bool',
  'offset',
])

/**
 * The metric names an expression selects, histogram series folded into their
 * metric (x_bucket, x_count, x_sum -> x). Label matchers, grouping labels,
 * range durations and function names are not names.
 */
export function metricNamesIn(expr: string): string[] {
  const stripped = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ')
  const names = new Set<string>()
  for (const match of stripped.matchAll(/(?<![\w$.])([a-zA-Z_:][\w:]*)(?!\w)(\s*\()?/g)) {
    const [, name = '', call] = match
    if (call || keywords.has(name)) continue
    names.add(name.replace(/_(bucket|count|sum)$/, ''))
  }
  return [...names].sort()
}

/** `src/**\/*.ts` of each services/* and packages/* directory, tests excluded. */
function sourceFiles(): string[] {
  const files: string[] = []
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name)
      if (entry.isDirectory()) walk(path)
      else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.test.ts')) files.push(path)
    }
  }
  for (const group of ['services', 'packages']) {
    for (const entry of readdirSync(join(repoDir, group), { withFileTypes: true })) {
      const src = join(repoDir, group, entry.name, 'src')
      if (entry.isDirectory() && existsSync(src)) walk(src)
    }
  }
  return files
}

/** Every metric a prom-client constructor in the services' source defines by a literal name. */
export function exportedMetricNames(files: readonly string[] = sourceFiles()): string[] {
  const names = new Set<string>()
  for (const file of files) {
    const text = readFileSync(file, 'utf8')
    for (const [, name = ''] of text.matchAll(
      /new (?:Counter|Gauge|Histogram|Summary)\(\{\s*name: '([a-zA-Z_:][\w:]*)'/g,
    ))
      names.add(name)
  }
  return [...names].sort()
}
