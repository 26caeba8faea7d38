/**
 * docs/threat-model.md cites tests, sources and lessons; every file path it
 * names must exist and every lesson it names must be a lesson, so the table
 * cannot drift from the repository.
 */
import { existsSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import t from 'tap'
import { lessons } from '../src/lessons/index.js'
import { repoRoot } from '../src/root.js'

const text = await readFile(join(repoRoot, 'docs/threat-model.md'), 'utf8')

/** Backticked tokens that look like repository paths (a/b, no spaces, not an npm scope). */
function citedPaths(markdown: string): string[] {
  return [...markdown.matchAll(/`([^`\s]+)`/g)]
    .map((match) => match[1] ?? '')
    .filter((token) => /^[\w.-]+(\/[\w.-]+)+\/?$/.test(token))
}

/** Lesson numbers from the table's last column and from "lesson 4" / "lessons 1 and 2" in prose. */
function citedLessons(markdown: string): number[] {
  const numbers = new Set<number>()
  for (const line of markdown.split('\n')) {
    if (!/^\|\s*\d+\s*\|/.test(line)) continue
    const cells = line.split('|').map((cell) => cell.trim())
    const last = cells.at(-2) ?? ''
    for (const n of last.match(/\d+/g) ?? []) numbers.add(Number(n))
  }
  for (const match of markdown.matchAll(/\b[Ll]essons? (\d+(?:(?:, | and | or )\d+)*)/g)) {
    for (const n of (match[1] ?? '').match(/\d+/g) ?? []) numbers.add(Number(n))
  }
  return [...numbers].sort((a, b) => a - b)
}

t.test('every file path cited exists', async (t) => {
  const paths = citedPaths(text)
  t.ok(paths.length >= 20, `${paths.length} paths cited`)
  for (const path of new Set(paths)) t.ok(existsSync(join(repoRoot, path)), path)
})

t.test('every lesson cited is a lesson', async (t) => {
  const cited = citedLessons(text)
  t.ok(cited.length > 0, `lessons cited: ${cited.join(', ')}`)
  const known = new Set(lessons.map((lesson) => lesson.n))
  for (const n of cited) t.ok(known.has(n), `lesson ${n} exists`)
})

t.test('at least twelve attacks, each with a layer, a test and a lesson column', async (t) => {
  const rows = text.split('\n').filter((line) => /^\|\s*\d+\s*\|/.test(line))
  t.ok(rows.length >= 12, `${rows.length} attacks`)
  for (const row of rows) {
    const cells = row.split('|').slice(1, -1)
    t.equal(cells.length, 5, `five columns: ${cells[1]?.trim().slice(0, 60)}`)
    t.ok(
      citedPaths(cells[3] ?? '').length > 0,
      `a test cited for: ${cells[1]?.trim().slice(0, 60)}`,
    )
  }
})

t.test('the checks catch what they are for (negative control)', async (t) => {
  t.same(citedPaths('see `e2e/test/nope.test.ts` and `@zt/contracts`'), ['e2e/test/nope.test.ts'])
  t.notOk(existsSync(join(repoRoot, 'e2e/test/nope.test.ts')))
  t.same(citedLessons('| 1 | a | b | `c/d` | 2, 9 |\nas lessons 1 and 7 show'), [1, 2, 7, 9])
})
