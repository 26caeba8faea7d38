/**
 * The chart's README.md is generated from values.schema.json and values.yaml
 * and cannot drift from them; what it calls required is what helm refuses.
 */
import { readFileSync } from 'node:fs'
import t from 'tap'
import { chartDir, helm } from '../src/helm.js'
import { generateReadme, readmePath, valueRows } from '../src/readme.js'

t.test('the committed README is the generated one (pnpm --filter @zt/charts readme)', async (t) => {
  t.equal(readFileSync(readmePath, 'utf8'), generateReadme())
})

t.test('helm ships it: helm show readme prints it', async (t) => {
  const shown = helm(['show', 'readme', chartDir])
  t.equal(shown.status, 0)
  t.equal(shown.stdout.trim(), readFileSync(readmePath, 'utf8').trim())
})

t.test('every value has a description in values.schema.json', async (t) => {
  t.same(
    valueRows()
      .filter((row) => !row.description)
      .map((row) => row.key),
    [],
  )
  // The check is not vacuous: a property without one is caught.
  const rows = valueRows(
    {
      type: 'object',
      properties: { documented: { type: 'string', description: 'yes' }, bare: { type: 'string' } },
    },
    { documented: '', bare: '' },
  )
  t.same(
    rows.filter((row) => !row.description).map((row) => row.key),
    ['bare'],
  )
})

t.test('the values it calls required are exactly those helm refuses by default', async (t) => {
  const result = helm(['template', 'zt', chartDir])
  t.equal(result.status, 1)
  const refused = new Set<string>()
  const rows = valueRows()
  for (const [, path = ''] of result.stderr.matchAll(/at '\/([^']+)'/g)) {
    const key = path.replaceAll('/', '.')
    // The README row that documents this path (a row may cover a whole object).
    const row = rows.find(
      (candidate) => key === candidate.key || key.startsWith(`${candidate.key}.`),
    )
    if (row) refused.add(row.key)
  }
  t.same(
    rows.filter((row) => row.required).map((row) => row.key),
    rows.filter((row) => refused.has(row.key)).map((row) => row.key),
  )
})
