/**
 * network-policies/ is the chart's NetworkPolicies as plain manifests, one
 * file per policy, for people who apply them without Helm: the example-values
 * rendering at the top level, and the policies only some values switch on
 * (Pod Identity, Prometheus, tracing) under optional/.
 * `pnpm --filter @zt/charts network-policies` rewrites it; a test proves the
 * files and the chart never drift.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { chartDir, exampleValues, helm, packageDir, valuesDir } from './helm.js'

export const networkPoliciesDir = join(packageDir, '..', 'network-policies')

/** File of each policy (namespace/name); the seed's two come first, as in the article. */
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
  'services/allow-pod-identity-agent-egress': 'optional/20-allow-pod-identity-agent-egress.yaml',
  'public/allow-prometheus-to-frontend': 'optional/30-public-allow-prometheus-to-frontend.yaml',
  'services/allow-prometheus-to-api-gateway': 'optional/31-allow-prometheus-to-api-gateway.yaml',
  'services/allow-prometheus-to-url-service': 'optional/32-allow-prometheus-to-url-service.yaml',
  'services/allow-prometheus-to-worker': 'optional/33-allow-prometheus-to-worker.yaml',
  'services/allow-otlp-egress': 'optional/40-allow-otlp-egress.yaml',
  'public/allow-otlp-egress': 'optional/41-public-allow-otlp-egress.yaml',
}

/** The values that switch every optional policy on (on top of the example values). */
export const optionalPolicyValues = [
  '-f',
  join(valuesDir, 'pod-identity.yaml'),
  '-f',
  join(valuesDir, 'tracing.yaml'),
  '--set',
  'network.prometheus.enabled=true',
]

/** Each rendered NetworkPolicy document (comments kept, helm's `# Source:` dropped), keyed by file. */
export function renderPolicyDocuments(extraArgs: readonly string[] = []): Map<string, string> {
  const result = helm(['template', 'zt', chartDir, '-f', exampleValues, ...extraArgs])
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
      throw new Error(`no file for NetworkPolicy ${namespace}/${name}: add it to policyFiles`)
    documents.set(file, text)
  }
  return documents
}

/** What network-policies/ must hold: the example rendering plus the optional policies. */
export function expectedPolicyDocuments(): Map<string, string> {
  const documents = renderPolicyDocuments()
  for (const [file, text] of renderPolicyDocuments(optionalPolicyValues)) {
    if (file.startsWith('optional/')) documents.set(file, text)
    else if (documents.get(file) !== text)
      throw new Error(`${file} must not depend on the optional values`)
  }
  return documents
}

export function readPolicyFiles(): Map<string, string> {
  const files = new Map<string, string>()
  for (const dir of ['', 'optional/']) {
    if (!existsSync(join(networkPoliciesDir, dir))) continue
    for (const file of readdirSync(join(networkPoliciesDir, dir)).sort()) {
      if (file.endsWith('.yaml'))
        files.set(`${dir}${file}`, readFileSync(join(networkPoliciesDir, dir, file), 'utf8'))
    }
  }
  return files
}
