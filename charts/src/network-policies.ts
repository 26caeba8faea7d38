/**
 * network-policies/ is the chart's NetworkPolicies rendered with
 * values/example.yaml, one file per policy, for people who apply plain
 * manifests. `pnpm --filter @zt/charts network-policies` rewrites it; a test
 * proves the files and the chart never drift.
 */
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { chartDir, exampleValues, helm, packageDir } from './helm.js'

export const networkPoliciesDir = join(packageDir, '..', 'network-policies')

/** File name of each policy (namespace/name); the seed's two come first, as in the article. */
export const policyFiles: Readonly<Record<string, string>> = {
  'services/default-deny-all': '00-default-deny-all.yaml',
  'services/allow-frontend-to-api-gateway': '01-allow-frontend-to-api-gateway.yaml',
  'services/allow-api-gateway-to-url-service': '02-allow-api-gateway-to-url-service.yaml',
  'services/allow-url-service-from-api-gateway': '03-allow-url-service-from-api-gateway.yaml',
  'services/allow-dns-egress': '04-allow-dns-egress.yaml',
  'services/allow-database-egress': '05-allow-database-egress.yaml',
  'services/allow-aws-endpoints-egress': '06-allow-aws-endpoints-egress.yaml',
  'public/default-deny-all': '10-public-default-deny-all.yaml',
  'public/allow-ingress-to-frontend': '11-public-allow-ingress-to-frontend.yaml',
  'public/allow-frontend-to-api-gateway': '12-public-allow-frontend-to-api-gateway.yaml',
  'public/allow-dns-egress': '13-public-allow-dns-egress.yaml',
  'public/allow-frontend-test-to-frontend': '14-public-allow-frontend-test-to-frontend.yaml',
}

/**
 * The text of each rendered NetworkPolicy document (with its comments), keyed
 * by file name, from `helm template` with the example values.
 */
export function renderPolicyDocuments(): Map<string, string> {
  const result = helm(['template', 'zt', chartDir, '-f', exampleValues])
  if (result.status !== 0) throw new Error(`helm template failed: ${result.stderr}`)
  const documents = new Map<string, string>()
  for (const raw of result.stdout.split(/^---$/m)) {
    if (!/^kind: NetworkPolicy$/m.test(raw)) continue
    const text = `${raw
      .split('\n')
      .filter((line) => !line.startsWith('# Source:'))
      .join('\n')
      .trim()}\n`
    const name = /^ {2}name: (\S+)/m.exec(text)?.[1]
    const namespace = /^ {2}namespace: (\S+)/m.exec(text)?.[1]
    const file = policyFiles[`${namespace}/${name}`]
    if (!file)
      throw new Error(`no file name for NetworkPolicy ${namespace}/${name}: add it to policyFiles`)
    documents.set(file, text)
  }
  return documents
}

export function readPolicyFiles(): Map<string, string> {
  const files = new Map<string, string>()
  for (const file of readdirSync(networkPoliciesDir).sort()) {
    if (file.endsWith('.yaml'))
      files.set(file, readFileSync(join(networkPoliciesDir, file), 'utf8'))
  }
  return files
}
