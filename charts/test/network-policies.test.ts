/**
 * network-policies/ (plain manifests) and the chart never drift, and the
 * seed article's two policies ship exactly as the article prints them.
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { parse } from 'yaml'
import { type K8sObject, packageDir, renderChart } from '../src/helm.js'
import { expectedPolicyDocuments, policyFiles, readPolicyFiles } from '../src/network-policies.js'

// The article's two YAML blocks, copied verbatim (see test/fixtures/README.md).
const articleBlock = (file: string) =>
  readFileSync(join(packageDir, 'test', 'fixtures', file), 'utf8')

t.test('the seed policies are the article text, byte for byte', async (t) => {
  const files = readPolicyFiles()
  for (const file of ['00-default-deny-all.yaml', '01-allow-frontend-to-api-gateway.yaml']) {
    t.equal(files.get(file), articleBlock(file), file)
  }
})

t.test('the seed policies say exactly what the article says', async (t) => {
  const files = readPolicyFiles()
  t.same(parse(files.get('00-default-deny-all.yaml') ?? ''), {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: { name: 'default-deny-all', namespace: 'services' },
    spec: { podSelector: {}, policyTypes: ['Ingress', 'Egress'] },
  })
  t.same(parse(files.get('01-allow-frontend-to-api-gateway.yaml') ?? ''), {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: { name: 'allow-frontend-to-api-gateway', namespace: 'services' },
    spec: {
      podSelector: { matchLabels: { app: 'api-gateway' } },
      ingress: [
        {
          from: [
            {
              namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'public' } },
              podSelector: { matchLabels: { app: 'frontend' } },
            },
          ],
          ports: [{ protocol: 'TCP', port: 8000 }],
        },
      ],
    },
  })
})

const policiesByFile = (objects: K8sObject[]) =>
  new Map(
    objects
      .filter((object) => object.kind === 'NetworkPolicy')
      .map((object) => [
        policyFiles[`${object.metadata.namespace}/${object.metadata.name}`],
        object,
      ]),
  )

t.test('network-policies/ holds exactly the chart rendering, one object per file', async (t) => {
  const files = readPolicyFiles()
  t.same(
    [...files.keys()].sort(),
    Object.values(policyFiles).sort(),
    'one file per policy, no strays',
  )
  const rendered = policiesByFile(renderChart())
  const all = policiesByFile(
    renderChart(['pod-identity.yaml', 'tracing.yaml'], ['network.prometheus.enabled=true']),
  )
  t.equal(all.size, files.size, 'every policy any values can render has a file')
  for (const [file, text] of files) {
    const expected = file.startsWith('optional/') ? all.get(file) : rendered.get(file)
    t.same(parse(text), expected, file)
  }
  t.same(
    [...rendered.keys()].sort(),
    [...files.keys()].filter((file) => !file.startsWith('optional/')).sort(),
    'the top level is exactly the example-values rendering',
  )
})

t.test('the plain files are the rendered documents, comments included', async (t) => {
  const files = readPolicyFiles()
  for (const [file, text] of expectedPolicyDocuments()) t.equal(files.get(file), text, file)
})

t.test(
  'the chart renders the seed policies even when its own namespaces are not created',
  async (t) => {
    const names = renderChart([], ['namespaces.create=false'])
      .filter((object) => object.kind === 'NetworkPolicy')
      .map((object) => `${object.metadata.namespace}/${object.metadata.name}`)
    t.ok(names.includes('services/default-deny-all'))
    t.ok(names.includes('services/allow-frontend-to-api-gateway'))
  },
)
