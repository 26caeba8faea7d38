/**
 * Prints the reachability matrix of the chart's NetworkPolicies:
 *   pnpm --filter @zt/charts matrix                    (example values: IRSA)
 *   pnpm --filter @zt/charts matrix -- pod-identity.yaml   (plus charts/values/<file>)
 */
import { renderChart } from '../src/helm.js'
import { formatMatrix, reachabilityMatrix } from '../src/netpol/matrix.js'

const valueFiles = process.argv.slice(2).filter((arg) => arg !== '--')
const flows = reachabilityMatrix(renderChart(valueFiles))
const label = valueFiles.length > 0 ? valueFiles.join(' + ') : 'example values'
console.log(`Allowed flows (${label}); everything else is denied:\n`)
console.log(formatMatrix(flows))
