/** Prints the functions with the most self time in a V8 .cpuprofile: `profile-top.ts <file> [n]`. */
import { readFileSync } from 'node:fs'

interface Node {
  id: number
  callFrame: { functionName: string; url: string; lineNumber: number }
  hitCount?: number
}
const [file, count] = process.argv.slice(2)
const profile = JSON.parse(readFileSync(file ?? '', 'utf8')) as { nodes: Node[] }
const byFrame = new Map<string, number>()
let total = 0
for (const node of profile.nodes) {
  const hits = node.hitCount ?? 0
  total += hits
  const { functionName, url, lineNumber } = node.callFrame
  const where = url
    .replace(/^.*node_modules\/\.pnpm\/([^/]+)\/node_modules\//, '$1 ')
    .replace(/^file:\/\/\/work\/main\//, '')
  const key = `${functionName || '(anonymous)'} ${where}:${lineNumber + 1}`
  byFrame.set(key, (byFrame.get(key) ?? 0) + hits)
}
for (const [key, hits] of [...byFrame].sort((a, b) => b[1] - a[1]).slice(0, Number(count ?? 25)))
  process.stdout.write(`${((hits / total) * 100).toFixed(1).padStart(5)}%  ${key}\n`)
