/**
 * Prints the reachability matrix of the chart's NetworkPolicies:
 *   pnpm --filter @zt/charts matrix                        (example values: IRSA)
 *   pnpm --filter @zt/charts matrix -- pod-identity.yaml   (plus charts/values/<file>)
 *   pnpm --filter @zt/charts matrix -- ./my-values.yaml    (plus any file of yours)
 */
import { existsSync } from 'node:fs'
import { resolve } from 'node:path'
import { renderChart } from '../src/helm.js'
import { formatMatrix, reachabilityMatrix } from '../src/netpol/matrix.js'

// pnpm runs this in charts/; a path the user typed is relative to where they
// typed it (INIT_CWD). A bare name that is no such file means charts/values/.
const typedFrom = process.env.INIT_CWD ?? process.cwd()
const valueFiles = process.argv
  .slice(2)
  .filter((arg) => arg !== '--')
  .map((arg) => (existsSync(resolve(typedFrom, arg)) ? resolve(typedFrom, arg) : arg))
const flows = reachabilityMatrix(renderChart(valueFiles))
const label = valueFiles.length > 0 ? valueFiles.join(' + ') : 'example values'
console.log(`Allowed flows (${label}); everything else is denied:\n`)
console.log(formatMatrix(flows))
