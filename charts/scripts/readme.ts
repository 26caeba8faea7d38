/** Rewrites zero-trust-eks/README.md from the chart's schema and defaults (see src/readme.ts). */
import { writeFileSync } from 'node:fs'
import { generateReadme, readmePath, valueRows } from '../src/readme.js'

const undocumented = valueRows().filter((row) => !row.description)
if (undocumented.length > 0) {
  console.error(
    `values.schema.json has no description for: ${undocumented.map((row) => row.key).join(', ')}`,
  )
  process.exit(1)
}
writeFileSync(readmePath, generateReadme())
console.log(`wrote ${readmePath}`)
